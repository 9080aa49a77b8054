package api

import (
	"net/http"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// route is one FHIR endpoint. The same table registers the handlers and generates the
// CapabilityStatement, so the statement lists exactly what is served.
type route struct {
	method  string
	path    string // relative to /fhir
	handler handlerFunc
	// interaction is the type-level interaction the route offers ("" for system-level routes).
	interaction fhir.Interaction
	// system is the system-level interaction (e.g. "capabilities"), if any.
	system string
}

func (s *Server) fhirRoutes() []route {
	return []route{
		{method: http.MethodGet, path: "/metadata", handler: s.capabilities, system: "capabilities"},
		{method: http.MethodPost, path: "/:type", handler: s.create, interaction: fhir.InteractionCreate},
		{method: http.MethodGet, path: "/:type/_history", handler: s.typeHistory, interaction: fhir.InteractionHistoryType},
		{method: http.MethodGet, path: "/:type/:id", handler: s.read, interaction: fhir.InteractionRead},
		{method: http.MethodPut, path: "/:type/:id", handler: s.update, interaction: fhir.InteractionUpdate},
		{method: http.MethodDelete, path: "/:type/:id", handler: s.delete, interaction: fhir.InteractionDelete},
		{method: http.MethodGet, path: "/:type/:id/_history", handler: s.instanceHistory, interaction: fhir.InteractionHistoryInstance},
		{method: http.MethodGet, path: "/:type/:id/_history/:vid", handler: s.vread, interaction: fhir.InteractionVRead},
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
