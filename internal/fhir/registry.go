package fhir

import "sort"

// Interaction is a FHIR RESTful interaction code (http://hl7.org/fhir/ValueSet/type-restful-interaction).
type Interaction string

// The interactions the server offers.
const (
	InteractionRead            Interaction = "read"
	InteractionVRead           Interaction = "vread"
	InteractionUpdate          Interaction = "update"
	InteractionDelete          Interaction = "delete"
	InteractionHistoryInstance Interaction = "history-instance"
	InteractionHistoryType     Interaction = "history-type"
	InteractionCreate          Interaction = "create"
	InteractionSearchType      Interaction = "search-type"
	// InteractionPatch changes part of a resource (JSON Patch or FHIRPath Patch).
	InteractionPatch Interaction = "patch"
	// InteractionOperation is an operation ($validate), as the audit trail names it.
	InteractionOperation Interaction = "operation"
)

// ResourceType describes one resource type the server serves.
type ResourceType struct {
	Name         string
	Profile      string
	Interactions []Interaction
}

// Registry is the set of resource types the server serves.
type Registry struct {
	types map[string]*ResourceType
}

// NewRegistry returns a registry of the given types. Every name must be a FHIR R4 resource type.
func NewRegistry(types ...*ResourceType) *Registry {
	r := &Registry{types: map[string]*ResourceType{}}
	for _, t := range types {
		if _, ok := modelTypes[t.Name]; !ok {
			panic("fhir: " + t.Name + " is not a FHIR R4 resource type")
		}
		r.types[t.Name] = t
	}
	return r
}

// DefaultInteractions are the interactions offered on every served type of data.
var DefaultInteractions = []Interaction{
	InteractionRead, InteractionVRead, InteractionUpdate, InteractionPatch, InteractionDelete,
	InteractionHistoryInstance, InteractionHistoryType, InteractionCreate, InteractionSearchType,
}

// AuditInteractions are the interactions offered on the audit trail: it is written by the
// server alone, and never changed.
var AuditInteractions = []Interaction{InteractionRead, InteractionSearchType}

// DefaultRegistry serves the patient-involvement resources: Questionnaire,
// QuestionnaireResponse and CarePlan, the Subscriptions that notify a care team of them,
// and the AuditEvents the server records of every access to them.
func DefaultRegistry() *Registry {
	var types []*ResourceType
	for _, n := range []string{"Questionnaire", "QuestionnaireResponse", "CarePlan", "Subscription"} {
		types = append(types, &ResourceType{
			Name: n, Profile: "http://hl7.org/fhir/StructureDefinition/" + n, Interactions: DefaultInteractions,
		})
	}
	types = append(types, &ResourceType{
		Name: "AuditEvent", Profile: "http://hl7.org/fhir/StructureDefinition/AuditEvent", Interactions: AuditInteractions,
	})
	return NewRegistry(types...)
}

// Offers reports whether the type offers interaction through the API.
func (t *ResourceType) Offers(in Interaction) bool {
	for _, x := range t.Interactions {
		if x == in {
			return true
		}
	}
	return false
}

// Supports reports whether typ is served.
func (r *Registry) Supports(typ string) bool { _, ok := r.types[typ]; return ok }

// Type returns the description of a served type, or nil.
func (r *Registry) Type(typ string) *ResourceType { return r.types[typ] }

// Types returns the served types sorted by name.
func (r *Registry) Types() []*ResourceType {
	out := make([]*ResourceType, 0, len(r.types))
	for _, t := range r.types {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// IsResourceType reports whether name is any FHIR R4 resource type, served or not.
func IsResourceType(name string) bool { _, ok := modelTypes[name]; return ok }

func (r *Registry) unsupported(typ string) error {
	if IsResourceType(typ) {
		return Errorf(KindNotFound, "This server does not serve %s resources", typ)
	}
	return Errorf(KindNotFound, "%q is not a FHIR R4 resource type", typ)
}

// CheckType returns a KindNotFound error when typ is not served.
func (r *Registry) CheckType(typ string) error {
	if !r.Supports(typ) {
		return r.unsupported(typ)
	}
	return nil
}
