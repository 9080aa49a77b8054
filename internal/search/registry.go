package search

import (
	"slices"
	"sort"

	models "github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// Definition is one search parameter as the FHIR R4 search parameter registry defines it.
type Definition struct {
	// Name is the code used in the query string, e.g. "authored".
	Name string
	// URL is the canonical URL of the SearchParameter resource that defines it.
	URL string
	// Type is the parameter type, which decides how values are parsed.
	Type ParamType
	// Expression is the FHIRPath expression exactly as the specification gives it.
	// Parameters shared by many resources (clinical-*) give only this resource's part.
	Expression string
	// Targets are the resource types a reference parameter may point to.
	Targets []string
	// Canonical is set on reference parameters whose element is a canonical URL
	// (QuestionnaireResponse.questionnaire, CarePlan.instantiatesCanonical): their values
	// are url or url|version rather than Type/id.
	Canonical bool
	// Modifiers are the modifiers allowed on the parameter.
	Modifiers []Modifier
	// Comparators are the prefixes allowed on its values (number, date, quantity).
	Comparators []Prefix
	// Components are the parts of a composite parameter, in order, separated by "$" in values.
	Components []Component
	// extract, when set, extracts the parameter's values instead of its compiled
	// expression (the answer parameters, whose items nest to any depth).
	extract func(a *acc, tree map[string]any) error
}

// Component is one part of a composite search parameter.
type Component struct {
	// Def is the parameter that gives the component's type.
	Def *Definition
	// Expression is relative to the composite's own expression.
	Expression string
}

// Allows reports whether m may be used on the parameter.
func (d *Definition) Allows(m Modifier) bool {
	for _, x := range d.Modifiers {
		if x == m {
			return true
		}
	}
	return false
}

// targets reports whether typ is one of the parameter's target types.
func (d *Definition) targets(typ string) bool {
	for _, t := range d.Targets {
		if t == typ || t == anyType {
			return true
		}
	}
	return false
}

// BareIDTypes are the resource types a bare id searched on a reference parameter stands
// for, when it stands for more than one: the parameter's targets, or every resource type
// for a parameter that may refer to any (Reference(Any)). It is nil for other parameters:
// a bare id on a parameter with one target is parsed as a reference to that type.
//
// A bare id finds references of any type with that id: those to these types by their
// "Type/id" in Values.R, the others by Values.I, which keeps the id of those alone.
func (d *Definition) BareIDTypes() []string {
	switch {
	case d.Type != TypeReference || d.Canonical || len(d.Targets) == 1 && d.Targets[0] != anyType:
		return nil
	case len(d.Targets) == 1:
		return allResourceTypes
	}
	return d.Targets
}

// keepsID reports whether Values.I keeps the id of a reference to typ, which a bare id
// search finds by "Type/id" unless typ is not among BareIDTypes.
func (d *Definition) keepsID(typ string) bool {
	types := d.BareIDTypes()
	switch {
	case types == nil:
		return false
	case len(d.Targets) == 1: // any type
		return !fhir.IsResourceType(typ)
	}
	return !slices.Contains(types, typ)
}

// allResourceTypes lists every FHIR R4 resource type, sorted.
var allResourceTypes = func() []string {
	var out []string
	for t := models.ResourceType(0); ; t++ {
		name := t.Code()
		if name == "<unknown>" {
			break
		}
		if fhir.IsResourceType(name) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}()

const spBase = "http://hl7.org/fhir/SearchParameter/"

// def builds a definition with the modifiers and comparators its type allows.
func def(id, name string, t ParamType, expr string, targets ...string) *Definition {
	d := &Definition{Name: name, URL: spBase + id, Type: t, Expression: expr, Targets: targets}
	d.Modifiers = modifiersFor(t, name)
	switch t {
	case TypeDate, TypeNumber, TypeQuantity:
		d.Comparators = AllPrefixes
	}
	return d
}

func canonical(d *Definition) *Definition { d.Canonical = true; return d }

func composite(id, name, expr string, parts ...Component) *Definition {
	d := def(id, name, TypeComposite, expr)
	d.Components = parts
	return d
}

// Resource-level parameters, from the R4 search-parameters.json entries Resource-id,
// Resource-lastUpdated, Resource-tag, Resource-profile, Resource-security and
// Resource-source (http://hl7.org/fhir/R4/resource.html#search). _profile is a uri
// parameter although Resource.meta.profile is a canonical.
var common = []*Definition{
	def("Resource-id", "_id", TypeToken, "Resource.id"),
	def("Resource-lastUpdated", "_lastUpdated", TypeDate, "Resource.meta.lastUpdated"),
	def("Resource-tag", "_tag", TypeToken, "Resource.meta.tag"),
	def("Resource-profile", "_profile", TypeURI, "Resource.meta.profile"),
	def("Resource-security", "_security", TypeToken, "Resource.meta.security"),
	def("Resource-source", "_source", TypeURI, "Resource.meta.source"),
}

// QuestionnaireResponse, from the R4 search-parameters.json entries
// QuestionnaireResponse-* (http://hl7.org/fhir/R4/questionnaireresponse.html#search).
// questionnaire is a reference parameter over a canonical element, so its values are
// canonical URLs (optionally url|version), not Questionnaire/id.
var questionnaireResponse = []*Definition{
	def("QuestionnaireResponse-author", "author", TypeReference, "QuestionnaireResponse.author",
		"Practitioner", "Organization", "Device", "Patient", "PractitionerRole", "RelatedPerson"),
	def("QuestionnaireResponse-authored", "authored", TypeDate, "QuestionnaireResponse.authored"),
	def("QuestionnaireResponse-based-on", "based-on", TypeReference, "QuestionnaireResponse.basedOn",
		"CarePlan", "ServiceRequest"),
	def("QuestionnaireResponse-encounter", "encounter", TypeReference, "QuestionnaireResponse.encounter", "Encounter"),
	def("QuestionnaireResponse-identifier", "identifier", TypeToken, "QuestionnaireResponse.identifier"),
	def("QuestionnaireResponse-part-of", "part-of", TypeReference, "QuestionnaireResponse.partOf", "Observation", "Procedure"),
	def("QuestionnaireResponse-patient", "patient", TypeReference,
		"QuestionnaireResponse.subject.where(resolve() is Patient)", "Patient"),
	canonical(def("QuestionnaireResponse-questionnaire", "questionnaire", TypeReference,
		"QuestionnaireResponse.questionnaire", "Questionnaire")),
	def("QuestionnaireResponse-source", "source", TypeReference, "QuestionnaireResponse.source",
		"Practitioner", "Patient", "PractitionerRole", "RelatedPerson"),
	def("QuestionnaireResponse-status", "status", TypeToken, "QuestionnaireResponse.status"),
	// The specification lists every R4 resource type as a target of subject (Reference(Any)).
	def("QuestionnaireResponse-subject", "subject", TypeReference, "QuestionnaireResponse.subject", anyType),
}

// anyType marks a reference parameter whose element is Reference(Any): every resource
// type is a valid target.
const anyType = "*"

// CarePlan, from the R4 search-parameters.json entries CarePlan-* and, for date,
// identifier and patient, the shared clinical-date, clinical-identifier and
// clinical-patient entries, of which only the CarePlan part of the expression is kept
// (http://hl7.org/fhir/R4/careplan.html#search).
var carePlan = []*Definition{
	def("CarePlan-activity-code", "activity-code", TypeToken, "CarePlan.activity.detail.code"),
	def("CarePlan-activity-date", "activity-date", TypeDate, "CarePlan.activity.detail.scheduled"),
	def("CarePlan-activity-reference", "activity-reference", TypeReference, "CarePlan.activity.reference",
		"Appointment", "MedicationRequest", "Task", "NutritionOrder", "RequestGroup", "VisionPrescription",
		"DeviceRequest", "ServiceRequest", "CommunicationRequest"),
	def("CarePlan-based-on", "based-on", TypeReference, "CarePlan.basedOn", "CarePlan"),
	def("CarePlan-care-team", "care-team", TypeReference, "CarePlan.careTeam", "CareTeam"),
	def("CarePlan-category", "category", TypeToken, "CarePlan.category"),
	def("CarePlan-condition", "condition", TypeReference, "CarePlan.addresses", "Condition"),
	def("clinical-date", "date", TypeDate, "CarePlan.period"),
	def("CarePlan-encounter", "encounter", TypeReference, "CarePlan.encounter", "Encounter"),
	def("CarePlan-goal", "goal", TypeReference, "CarePlan.goal", "Goal"),
	def("clinical-identifier", "identifier", TypeToken, "CarePlan.identifier"),
	canonical(def("CarePlan-instantiates-canonical", "instantiates-canonical", TypeReference,
		"CarePlan.instantiatesCanonical",
		"Questionnaire", "Measure", "PlanDefinition", "OperationDefinition", "ActivityDefinition")),
	def("CarePlan-instantiates-uri", "instantiates-uri", TypeURI, "CarePlan.instantiatesUri"),
	def("CarePlan-intent", "intent", TypeToken, "CarePlan.intent"),
	def("CarePlan-part-of", "part-of", TypeReference, "CarePlan.partOf", "CarePlan"),
	// clinical-patient lists Patient and Group as targets in R4 4.0.1 search-parameters.json
	// (entry clinical-patient, "target": ["Patient", "Group"]), although its CarePlan
	// expression only keeps references that resolve to a Patient.
	def("clinical-patient", "patient", TypeReference, "CarePlan.subject.where(resolve() is Patient)",
		"Patient", "Group"),
	// performer searches the detailed activities' performers, despite the description
	// talking of "simple" activities.
	def("CarePlan-performer", "performer", TypeReference, "CarePlan.activity.detail.performer",
		"Practitioner", "Organization", "CareTeam", "Device", "Patient", "HealthcareService",
		"PractitionerRole", "RelatedPerson"),
	def("CarePlan-replaces", "replaces", TypeReference, "CarePlan.replaces", "CarePlan"),
	def("CarePlan-status", "status", TypeToken, "CarePlan.status"),
	def("CarePlan-subject", "subject", TypeReference, "CarePlan.subject", "Group", "Patient"),
}

// Questionnaire, from the R4 search-parameters.json entries Questionnaire-*
// (http://hl7.org/fhir/R4/questionnaire.html#search). In R4 Questionnaire has its own
// context parameters (not the shared conformance-context ones). code searches only the
// items' codes, not Questionnaire.code; version is a token; the two composites pair the
// use context's code with its value.
var questionnaire = func() []*Definition {
	contextType := def("Questionnaire-context-type", "context-type", TypeToken, "Questionnaire.useContext.code")
	context := def("Questionnaire-context", "context", TypeToken, "(Questionnaire.useContext.value as CodeableConcept)")
	contextQuantity := def("Questionnaire-context-quantity", "context-quantity", TypeQuantity,
		"(Questionnaire.useContext.value as Quantity) | (Questionnaire.useContext.value as Range)")
	return []*Definition{
		def("Questionnaire-code", "code", TypeToken, "Questionnaire.item.code"),
		context,
		contextQuantity,
		contextType,
		composite("Questionnaire-context-type-quantity", "context-type-quantity", "Questionnaire.useContext",
			Component{contextType, "code"}, Component{contextQuantity, "value.as(Quantity) | value.as(Range)"}),
		composite("Questionnaire-context-type-value", "context-type-value", "Questionnaire.useContext",
			Component{contextType, "code"}, Component{context, "value.as(CodeableConcept)"}),
		def("Questionnaire-date", "date", TypeDate, "Questionnaire.date"),
		def("Questionnaire-definition", "definition", TypeURI, "Questionnaire.item.definition"),
		def("Questionnaire-description", "description", TypeString, "Questionnaire.description"),
		def("Questionnaire-effective", "effective", TypeDate, "Questionnaire.effectivePeriod"),
		def("Questionnaire-identifier", "identifier", TypeToken, "Questionnaire.identifier"),
		def("Questionnaire-jurisdiction", "jurisdiction", TypeToken, "Questionnaire.jurisdiction"),
		def("Questionnaire-name", "name", TypeString, "Questionnaire.name"),
		def("Questionnaire-publisher", "publisher", TypeString, "Questionnaire.publisher"),
		def("Questionnaire-status", "status", TypeToken, "Questionnaire.status"),
		def("Questionnaire-subject-type", "subject-type", TypeToken, "Questionnaire.subjectType"),
		def("Questionnaire-title", "title", TypeString, "Questionnaire.title"),
		def("Questionnaire-url", "url", TypeURI, "Questionnaire.url"),
		def("Questionnaire-version", "version", TypeToken, "Questionnaire.version"),
	}
}()

// AuditEvent, from the R4 search-parameters.json entries AuditEvent-*
// (http://hl7.org/fhir/R4/auditevent.html#search): the audit trail the server writes.
var auditEvent = func() []*Definition {
	agents := []string{"Practitioner", "Organization", "Device", "Patient", "PractitionerRole", "RelatedPerson"}
	return []*Definition{
		def("AuditEvent-action", "action", TypeToken, "AuditEvent.action"),
		def("AuditEvent-address", "address", TypeString, "AuditEvent.agent.network.address"),
		def("AuditEvent-agent", "agent", TypeReference, "AuditEvent.agent.who", agents...),
		def("AuditEvent-agent-name", "agent-name", TypeString, "AuditEvent.agent.name"),
		def("AuditEvent-agent-role", "agent-role", TypeToken, "AuditEvent.agent.role"),
		def("AuditEvent-altid", "altid", TypeToken, "AuditEvent.agent.altId"),
		def("AuditEvent-date", "date", TypeDate, "AuditEvent.recorded"),
		def("AuditEvent-entity", "entity", TypeReference, "AuditEvent.entity.what", anyType),
		def("AuditEvent-entity-name", "entity-name", TypeString, "AuditEvent.entity.name"),
		def("AuditEvent-entity-role", "entity-role", TypeToken, "AuditEvent.entity.role"),
		def("AuditEvent-entity-type", "entity-type", TypeToken, "AuditEvent.entity.type"),
		def("AuditEvent-outcome", "outcome", TypeToken, "AuditEvent.outcome"),
		def("AuditEvent-patient", "patient", TypeReference,
			"AuditEvent.agent.who.where(resolve() is Patient) | AuditEvent.entity.what.where(resolve() is Patient)", "Patient"),
		def("AuditEvent-policy", "policy", TypeURI, "AuditEvent.agent.policy"),
		def("AuditEvent-site", "site", TypeToken, "AuditEvent.source.site"),
		def("AuditEvent-source", "source", TypeReference, "AuditEvent.source.observer", agents...),
		def("AuditEvent-subtype", "subtype", TypeToken, "AuditEvent.subtype"),
		def("AuditEvent-type", "type", TypeToken, "AuditEvent.type"),
	}
}()

// Subscription, from the R4 search-parameters.json entries Subscription-*
// (http://hl7.org/fhir/R4/subscription.html#search).
var subscription = []*Definition{
	def("Subscription-contact", "contact", TypeToken, "Subscription.contact"),
	def("Subscription-criteria", "criteria", TypeString, "Subscription.criteria"),
	def("Subscription-payload", "payload", TypeToken, "Subscription.channel.payload"),
	def("Subscription-status", "status", TypeToken, "Subscription.status"),
	def("Subscription-type", "type", TypeToken, "Subscription.channel.type"),
	def("Subscription-url", "url", TypeURI, "Subscription.channel.endpoint"),
}

// registry maps resource type to parameter name to definition, common parameters included.
var registry = func() map[string]map[string]*Definition {
	r := map[string]map[string]*Definition{}
	for typ, defs := range map[string][]*Definition{
		"QuestionnaireResponse": append(append(questionnaireResponse, answerDefinitions...), careUnitDefinition),
		"CarePlan":              carePlan,
		"Questionnaire":         questionnaire,
		"AuditEvent":            auditEvent,
		"Subscription":          subscription,
	} {
		m := map[string]*Definition{}
		for _, d := range common {
			m[d.Name] = d
		}
		for _, d := range defs {
			m[d.Name] = d
		}
		r[typ] = m
	}
	return r
}()

// Lookup returns the definition of the named parameter on resourceType, or nil.
func Lookup(resourceType, name string) *Definition {
	return registry[resourceType][name]
}

// Definitions returns every parameter defined on resourceType, common ones included,
// sorted by name; nil when the type has no search parameters here.
func Definitions(resourceType string) []*Definition {
	m := registry[resourceType]
	if m == nil {
		return nil
	}
	out := make([]*Definition, 0, len(m))
	for _, d := range m {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ResourceTypes returns the resource types that have search parameters here, sorted.
func ResourceTypes() []string {
	out := make([]string, 0, len(registry))
	for t := range registry {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
