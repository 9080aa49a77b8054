package api

import (
	"net/http"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// route is one FHIR endpoint. The same table registers the handlers and generates the
// CapabilityStatement, so the statement lists exactly what is served.
type route struct {
	method  string
	path    string // relative to /fhir
	handler handlerFunc
	// interaction is the type-level interaction the route offers ("" for system-level routes).
	interaction fhir.Interaction
	// conditional marks a route that offers the conditional form of its interaction: read
	// with If-None-Match and If-Modified-Since, create with If-None-Exist, update and delete
	// by search criteria.
	conditional bool
	// system is the system-level interaction (e.g. "capabilities"), if any.
	system string
	// operation is the name of the type-level operation the route serves ("validate"),
	// offered on every type clients write; a token that may read the type may call it.
	operation string
}

// authorizes is the interaction whose scopes the route's requests need.
func (r route) authorizes() fhir.Interaction {
	if r.operation != "" {
		return fhir.InteractionRead
	}
	return r.interaction
}

// operationDefinitions are the canonical OperationDefinitions of the operations served.
var operationDefinitions = map[string]string{"validate": validateOperation, "report": reportOperation}

// typeOnlyOperations are the operations served on one type alone.
var typeOnlyOperations = map[string]string{"report": "Questionnaire"}

func (s *Server) fhirRoutes() []route {
	return []route{
		{method: http.MethodGet, path: "/metadata", handler: s.capabilities, system: "capabilities"},
		{method: http.MethodPost, path: "", handler: s.bundle, system: "transaction"},
		{method: http.MethodGet, path: "/:type", handler: s.search, interaction: fhir.InteractionSearchType},
		{method: http.MethodPost, path: "/:type/_search", handler: s.searchPost, interaction: fhir.InteractionSearchType},
		{method: http.MethodPost, path: "/:type/$validate", handler: s.validateType, operation: "validate"},
		{method: http.MethodPost, path: "/:type", handler: s.create, interaction: fhir.InteractionCreate, conditional: true},
		{method: http.MethodPut, path: "/:type", handler: s.conditionalUpdate, interaction: fhir.InteractionUpdate, conditional: true},
		{method: http.MethodPatch, path: "/:type", handler: s.conditionalPatch, interaction: fhir.InteractionPatch, conditional: true},
		{method: http.MethodDelete, path: "/:type", handler: s.conditionalDelete, interaction: fhir.InteractionDelete, conditional: true},
		{method: http.MethodGet, path: "/:type/_history", handler: s.typeHistory, interaction: fhir.InteractionHistoryType},
		{method: http.MethodGet, path: "/:type/:id", handler: s.read, interaction: fhir.InteractionRead, conditional: true},
		{method: http.MethodPut, path: "/:type/:id", handler: s.update, interaction: fhir.InteractionUpdate},
		{method: http.MethodPatch, path: "/:type/:id", handler: s.patch, interaction: fhir.InteractionPatch},
		{method: http.MethodDelete, path: "/:type/:id", handler: s.delete, interaction: fhir.InteractionDelete},
		{method: http.MethodGet, path: "/:type/:id/_history", handler: s.instanceHistory, interaction: fhir.InteractionHistoryInstance},
		{method: http.MethodGet, path: "/:type/:id/_history/:vid", handler: s.vread, interaction: fhir.InteractionVRead},
		{method: http.MethodPost, path: "/:type/:id/$validate", handler: s.validateInstance, operation: "validate"},
		{method: http.MethodGet, path: "/:type/$report", handler: s.report, operation: "report"},
		{method: http.MethodPost, path: "/:type/$report", handler: s.reportPost, operation: "report"},
		{method: http.MethodGet, path: "/:type/:id/$report", handler: s.reportInstance, operation: "report"},
		{method: http.MethodPost, path: "/:type/:id/$report", handler: s.reportInstancePost, operation: "report"},
	}
}

// interactions returns the type-level interactions the routes offer, in route order.
func (s *Server) interactions() []fhir.Interaction {
	var out []fhir.Interaction
	seen := map[fhir.Interaction]bool{}
	for _, r := range s.routes {
		if r.interaction != "" && !seen[r.interaction] {
			seen[r.interaction] = true
			out = append(out, r.interaction)
		}
	}
	return out
}

// conditionals returns the interactions whose conditional form the routes offer.
func (s *Server) conditionals() map[fhir.Interaction]bool {
	out := map[fhir.Interaction]bool{}
	for _, r := range s.routes {
		if r.conditional {
			out[r.interaction] = true
		}
	}
	return out
}

// typeOperations are the names of the operations the routes serve on t: on the types
// clients write.
func (s *Server) typeOperations(t *fhir.ResourceType) []string {
	if !t.Offers(fhir.InteractionCreate) {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, r := range s.routes {
		if only, ok := typeOnlyOperations[r.operation]; ok && only != t.Name {
			continue
		}
		if r.operation != "" && !seen[r.operation] {
			seen[r.operation] = true
			out = append(out, r.operation)
		}
	}
	return out
}

// typeInteractions are the interactions a type offers, as far as the routes serve them: the
// registry's, and search-type for every type the search package has parameters for.
func (s *Server) typeInteractions(t *fhir.ResourceType) []fhir.Interaction {
	offered := map[fhir.Interaction]bool{}
	for _, i := range s.interactions() {
		offered[i] = true
	}
	var out []fhir.Interaction
	seen := map[fhir.Interaction]bool{}
	add := func(i fhir.Interaction) {
		if offered[i] && !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	for _, i := range t.Interactions {
		add(i)
	}
	if len(search.Definitions(t.Name)) > 0 {
		add(fhir.InteractionSearchType)
	}
	return out
}
