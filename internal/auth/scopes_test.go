package auth

import (
	"strings"
	"testing"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

func TestParseScope(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw  string
		ok   bool
		want Scope // Raw is filled in by the test
	}{
		{"patient/Questionnaire.read", true, Scope{Context: ContextPatient, ResourceType: "Questionnaire", Permissions: PermRead | PermSearch, V1: true}},
		{"user/*.write", true, Scope{Context: ContextUser, ResourceType: "*", Permissions: PermCreate | PermUpdate | PermDelete, V1: true}},
		{"system/*.*", true, Scope{Context: ContextSystem, ResourceType: "*", Permissions: PermAll, V1: true}},
		{"patient/*.read", true, Scope{Context: ContextPatient, ResourceType: "*", Permissions: PermRead | PermSearch, V1: true}},
		{"patient/QuestionnaireResponse.cruds", true, Scope{Context: ContextPatient, ResourceType: "QuestionnaireResponse", Permissions: PermAll}},
		{"system/*.rs", true, Scope{Context: ContextSystem, ResourceType: "*", Permissions: PermRead | PermSearch}},
		{"user/CarePlan.r", true, Scope{Context: ContextUser, ResourceType: "CarePlan", Permissions: PermRead}},
		{"user/CarePlan.cd", true, Scope{Context: ContextUser, ResourceType: "CarePlan", Permissions: PermCreate | PermDelete}},
		{"patient/CarePlan.rs?category=http://hl7.org/fhir/us/core/CodeSystem/careplan-category|assess-plan", true,
			Scope{Context: ContextPatient, ResourceType: "CarePlan", Permissions: PermRead | PermSearch,
				Query: "category=http://hl7.org/fhir/us/core/CodeSystem/careplan-category|assess-plan"}},

		{"user/CarePlan.sr", false, Scope{}},       // v2 letters out of order
		{"user/CarePlan.rr", false, Scope{}},       // repeated letter
		{"user/CarePlan.crudsx", false, Scope{}},   // unknown letter
		{"user/CarePlan.", false, Scope{}},         // no permissions
		{"user/CarePlan", false, Scope{}},          // no dot
		{"user/carePlan.r", false, Scope{}},        // not a type name
		{"user/.r", false, Scope{}},                // no type
		{"admin/CarePlan.r", false, Scope{}},       // unknown context
		{"user/CarePlan.read?x=1", false, Scope{}}, // query on a v1 scope
		{"openid", false, Scope{}},
		{"fhirUser", false, Scope{}},
		{"launch/patient", false, Scope{}},
		{"offline_access", false, Scope{}},
		{"online_access", false, Scope{}},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			t.Parallel()
			got, ok := ParseScope(tc.raw)
			if ok != tc.ok {
				t.Fatalf("ok %v, want %v (%+v)", ok, tc.ok, got)
			}
			if ok {
				tc.want.Raw = tc.raw
			}
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseScopesSplitsResourceScopesFromOthers(t *testing.T) {
	t.Parallel()
	res, other := ParseScopes("openid fhirUser  launch/patient patient/*.rs offline_access user/X.zz")
	if len(res) != 1 || res[0].Raw != "patient/*.rs" {
		t.Errorf("resource scopes %+v", res)
	}
	if strings.Join(other, " ") != "openid fhirUser launch/patient offline_access user/X.zz" {
		t.Errorf("other scopes %q", other)
	}
}

// TestAccess is the permission matrix: scopes × action → access.
func TestAccess(t *testing.T) {
	t.Parallel()
	const qr, cp, q = "QuestionnaireResponse", "CarePlan", "Questionnaire"
	tests := []struct {
		name    string
		scope   string
		patient string
		typ     string
		action  Action
		want    Access
	}{
		// SMART v1
		{"v1 read allows read", "user/CarePlan.read", "", cp, ActionRead, AccessAll},
		{"v1 read allows vread", "user/CarePlan.read", "", cp, ActionVRead, AccessAll},
		{"v1 read allows instance history", "user/CarePlan.read", "", cp, ActionHistoryInstance, AccessAll},
		{"v1 read allows type history", "user/CarePlan.read", "", cp, ActionHistoryType, AccessAll},
		{"v1 read allows search", "user/CarePlan.read", "", cp, ActionSearch, AccessAll},
		{"v1 read does not allow create", "user/CarePlan.read", "", cp, ActionCreate, AccessNone},
		{"v1 write allows create", "user/*.write", "", qr, ActionCreate, AccessAll},
		{"v1 write allows update", "user/*.write", "", qr, ActionUpdate, AccessAll},
		{"v1 write allows delete", "user/*.write", "", qr, ActionDelete, AccessAll},
		{"v1 write does not allow read", "user/*.write", "", qr, ActionRead, AccessNone},
		{"v1 write alone does not allow conditional create", "user/*.write", "", qr, ActionConditionalCreate, AccessNone},
		{"v1 read+write allow conditional update", "user/*.read user/*.write", "", qr, ActionConditionalUpdate, AccessAll},
		{"v1 star allows conditional delete", "system/*.*", "", q, ActionConditionalDelete, AccessAll},
		{"v1 patient read is compartment-bound", "patient/*.read", "p1", qr, ActionSearch, AccessPatient},
		{"other type not allowed", "user/CarePlan.read", "", qr, ActionRead, AccessNone},

		// SMART v2
		{"v2 r allows read", "user/CarePlan.r", "", cp, ActionRead, AccessAll},
		{"v2 r allows instance history", "user/CarePlan.r", "", cp, ActionHistoryInstance, AccessAll},
		{"v2 r does not allow search", "user/CarePlan.r", "", cp, ActionSearch, AccessNone},
		{"v2 r does not allow type history", "user/CarePlan.r", "", cp, ActionHistoryType, AccessNone},
		{"v2 s allows type history", "user/CarePlan.s", "", cp, ActionHistoryType, AccessAll},
		{"v2 s does not allow read", "user/CarePlan.s", "", cp, ActionRead, AccessNone},
		{"v2 c allows create", "system/*.c", "", qr, ActionCreate, AccessAll},
		{"v2 c alone not conditional create", "system/*.c", "", qr, ActionConditionalCreate, AccessNone},
		{"v2 cs allows conditional create", "system/*.cs", "", qr, ActionConditionalCreate, AccessAll},
		{"v2 u does not allow create", "user/QuestionnaireResponse.u", "", qr, ActionCreate, AccessNone},
		{"v2 us allows conditional update", "user/QuestionnaireResponse.us", "", qr, ActionConditionalUpdate, AccessAll},
		{"v2 d allows delete", "user/QuestionnaireResponse.d", "", qr, ActionDelete, AccessAll},
		{"v2 ds allows conditional delete", "user/QuestionnaireResponse.ds", "", qr, ActionConditionalDelete, AccessAll},
		{"v2 d alone not conditional delete", "user/QuestionnaireResponse.d", "", qr, ActionConditionalDelete, AccessNone},
		{"v2 letters add up across scopes", "user/CarePlan.u user/*.s", "", cp, ActionConditionalUpdate, AccessAll},
		{"v2 cruds patient", "patient/QuestionnaireResponse.cruds", "p1", qr, ActionCreate, AccessPatient},
		{"v2 granular scope grants nothing", "user/CarePlan.rs?category=x", "", cp, ActionSearch, AccessNone},

		// Contexts
		{"patient scope without patient claim grants nothing", "patient/*.cruds", "", qr, ActionRead, AccessNone},
		{"user scope wins over patient scope", "patient/*.rs user/CarePlan.rs", "p1", cp, ActionRead, AccessAll},
		{"mixed contexts: compartment applies", "patient/CarePlan.c user/CarePlan.s", "p1", cp, ActionConditionalCreate, AccessPatient},
		{"system scope", "system/QuestionnaireResponse.s", "", qr, ActionSearch, AccessAll},
		{"no scopes", "openid fhirUser", "", qr, ActionRead, AccessNone},
		{"unknown action", "system/*.*", "", qr, Action(99), AccessNone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			scopes, _ := ParseScopes(tc.scope)
			p := &Principal{Scope: tc.scope, Scopes: scopes, Patient: tc.patient}
			if got := p.Access(tc.typ, tc.action); got != tc.want {
				t.Fatalf("Access(%s, %s) = %s, want %s", tc.typ, tc.action, got, tc.want)
			}
			if got := p.Allows(tc.typ, tc.action); got != (tc.want != AccessNone) {
				t.Errorf("Allows = %v", got)
			}
			if got := p.PatientOnly(tc.typ, tc.action); got != (tc.want == AccessPatient) {
				t.Errorf("PatientOnly = %v", got)
			}
			_, err := p.Authorize(tc.typ, tc.action)
			if (err != nil) != (tc.want == AccessNone) || (err != nil && !fhir.IsKind(err, fhir.KindForbidden)) {
				t.Errorf("Authorize error %v", err)
			}
		})
	}
}

func TestPermissionString(t *testing.T) {
	t.Parallel()
	if s := (PermAll).String(); s != "cruds" {
		t.Errorf("PermAll %q", s)
	}
	if s := (PermSearch | PermRead).String(); s != "rs" {
		t.Errorf("rs %q", s)
	}
}
