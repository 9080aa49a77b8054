package search

import (
	"slices"
	"testing"
)

func TestRegistryHasEveryParameter(t *testing.T) {
	t.Parallel()
	commonNames := []string{"_id", "_lastUpdated", "_profile", "_security", "_source", "_tag"}
	want := map[string][]string{
		"QuestionnaireResponse": {"author", "authored", "based-on", "encounter", "identifier", "part-of",
			"patient", "questionnaire", "source", "status", "subject",
			// defined by this server (answers.go)
			"item-answer", "item-answer-date", "item-answer-number",
			// defined by this server (careunit.go)
			"care-unit"},
		"CarePlan": {"activity-code", "activity-date", "activity-reference", "based-on", "care-team", "category",
			"condition", "date", "encounter", "goal", "identifier", "instantiates-canonical", "instantiates-uri",
			"intent", "part-of", "patient", "performer", "replaces", "status", "subject"},
		"Questionnaire": {"code", "context", "context-quantity", "context-type", "context-type-quantity",
			"context-type-value", "date", "definition", "description", "effective", "identifier", "jurisdiction",
			"name", "publisher", "status", "subject-type", "title", "url", "version"},
		"AuditEvent": {"action", "address", "agent", "agent-name", "agent-role", "altid", "date", "entity",
			"entity-name", "entity-role", "entity-type", "outcome", "patient", "policy", "site", "source",
			"subtype", "type"},
		"Subscription": {"contact", "criteria", "payload", "status", "type", "url"},
	}
	if got := ResourceTypes(); !slices.Equal(got, []string{"AuditEvent", "CarePlan", "Questionnaire", "QuestionnaireResponse", "Subscription"}) {
		t.Errorf("ResourceTypes() = %v", got)
	}
	for typ, names := range want {
		names = append(slices.Clone(names), commonNames...)
		slices.Sort(names)
		var got []string
		for _, d := range Definitions(typ) {
			got = append(got, d.Name)
			if d.Expression == "" || d.URL == "" || d.Type == "" {
				t.Errorf("%s.%s is incomplete: %+v", typ, d.Name, d)
			}
			if d.Type == TypeReference && len(d.Targets) == 0 {
				t.Errorf("%s.%s: reference without targets", typ, d.Name)
			}
			if d.Type == TypeComposite && len(d.Components) != 2 {
				t.Errorf("%s.%s: composite with %d components", typ, d.Name, len(d.Components))
			}
		}
		if !slices.Equal(got, names) {
			t.Errorf("%s parameters:\n got %v\nwant %v", typ, got, names)
		}
	}
}

func TestRegistryQuirks(t *testing.T) {
	t.Parallel()
	q := Lookup("QuestionnaireResponse", "questionnaire")
	if q.Type != TypeReference || !q.Canonical || !slices.Equal(q.Targets, []string{"Questionnaire"}) {
		t.Errorf("questionnaire = %+v, want a canonical reference to Questionnaire", q)
	}
	ctv := Lookup("Questionnaire", "context-type-quantity")
	if ctv.Components[0].Def.Name != "context-type" || ctv.Components[1].Def.Type != TypeQuantity {
		t.Errorf("context-type-quantity components = %+v", ctv.Components)
	}
	if Lookup("Questionnaire", "identifier").Allows(ModifierOfType) != true {
		t.Error("identifier should allow :of-type")
	}
	if Lookup("Questionnaire", "status").Allows(ModifierOfType) {
		t.Error("status should not allow :of-type")
	}
	// R4 clinical-patient targets Patient and Group, QuestionnaireResponse-patient only Patient.
	if got := Lookup("CarePlan", "patient").Targets; !slices.Equal(got, []string{"Patient", "Group"}) {
		t.Errorf("CarePlan patient targets = %v, want [Patient Group]", got)
	}
	if got := Lookup("QuestionnaireResponse", "patient").Targets; !slices.Equal(got, []string{"Patient"}) {
		t.Errorf("QuestionnaireResponse patient targets = %v, want [Patient]", got)
	}
	if Lookup("Patient", "name") != nil || Definitions("Patient") != nil {
		t.Error("Patient is not served")
	}
}

func TestBareIDTypes(t *testing.T) {
	if n := len(allResourceTypes); n < 140 || !slices.Contains(allResourceTypes, "Patient") || slices.Contains(allResourceTypes, "<unknown>") {
		t.Errorf("allResourceTypes has %d types: %v", n, allResourceTypes)
	}
	for _, tc := range []struct {
		typ, param string
		want       []string
	}{
		{"QuestionnaireResponse", "patient", nil},
		{"QuestionnaireResponse", "encounter", nil},
		{"QuestionnaireResponse", "questionnaire", nil},
		{"QuestionnaireResponse", "status", nil},
		{"QuestionnaireResponse", "source", []string{"Practitioner", "Patient", "PractitionerRole", "RelatedPerson"}},
		{"QuestionnaireResponse", "subject", allResourceTypes},
	} {
		if got := Lookup(tc.typ, tc.param).BareIDTypes(); !slices.Equal(got, tc.want) {
			t.Errorf("%s.%s: BareIDTypes() = %v, want %v", tc.typ, tc.param, got, tc.want)
		}
	}
	d := Lookup("QuestionnaireResponse", "author")
	for typ, want := range map[string]bool{"Patient": false, "Group": true, "Foo": true} {
		if got := d.keepsID(typ); got != want {
			t.Errorf("author keeps the id of a %s reference: %v, want %v", typ, got, want)
		}
	}
	d = Lookup("QuestionnaireResponse", "subject")
	for typ, want := range map[string]bool{"Patient": false, "Group": false, "Foo": true} {
		if got := d.keepsID(typ); got != want {
			t.Errorf("subject keeps the id of a %s reference: %v, want %v", typ, got, want)
		}
	}
}

func TestPlainCodes(t *testing.T) {
	for _, tc := range []struct {
		typ, param string
		want       bool
	}{
		{"QuestionnaireResponse", "status", true},
		{"CarePlan", "intent", true},
		{"Questionnaire", "version", true},
		{"Questionnaire", "subject-type", true},
		{"AuditEvent", "action", true},
		{"AuditEvent", "site", true},
		{"QuestionnaireResponse", "identifier", false},
		{"QuestionnaireResponse", "_tag", false},
		{"CarePlan", "category", false},
		{"AuditEvent", "type", false},
		{"QuestionnaireResponse", "authored", false},
	} {
		if got := Lookup(tc.typ, tc.param).PlainCodes(); got != tc.want {
			t.Errorf("%s.%s: PlainCodes() = %v, want %v", tc.typ, tc.param, got, tc.want)
		}
	}
}
