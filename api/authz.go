package api

import (
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// Authorization happens in two steps. authenticate, called by the guard on every /fhir
// request but metadata, SMART discovery and CORS preflights, verifies the bearer token (401
// without a valid one) before anything else about the request is looked at. authorize, wrapped around each route's
// handler, decides from the token's scopes whether the interaction is allowed on the type
// (403 when not) and whether it is limited to the patient in context. A limited request
// carries that patient's compartment to everything it reaches: search and includes,
// history, reads (another patient's resource reads as not found, so that its existence does
// not leak), and every write through a write guard, conditional ones included.

const (
	principalKey = "fhir.principal"
	accessKey    = "fhir.access"
)

// access is what one request may do, decided by authorize.
type access struct {
	principal *auth.Principal
	// compartment is "Patient/<id>" when the request is limited to one patient's data.
	compartment string
}

// auditOnlyTypes are served types whose resources only user/ and system/ scopes may reach:
// the audit trail is about patients but is not theirs to read.
// Subscriptions are a care team's systems' own: they are not patient data, and a patient
// token may neither read nor write them.
var auditOnlyTypes = map[string]bool{"AuditEvent": true, "Subscription": true}

// authenticate verifies the bearer token of a /fhir request and records its principal; the
// error it returns is a 401 (or, when the keys cannot be had, a 5xx).
func (s *Server) authenticate(c *gin.Context) error {
	token, err := auth.BearerToken(c.GetHeader("Authorization"))
	var p *auth.Principal
	if err == nil || s.opts.Auth.Mode() == auth.ModeOff {
		p, err = s.opts.Auth.Verify(c.Request.Context(), token)
	}
	if err != nil {
		loggerFrom(c).Info("access token refused", "reason", errorDetail(err),
			"method", c.Request.Method, "path", c.Request.URL.Path)
		if fhir.IsKind(err, fhir.KindUnauthorized) {
			c.Header("WWW-Authenticate", auth.Challenge(err))
		}
		return err
	}
	c.Set(principalKey, p)
	c.Set(secretsKey, s.opts.Subscriptions)
	return nil
}

// errorDetail is the full text of an error, wrapped causes included, for the log only.
func errorDetail(err error) string { return err.Error() }

// principal returns the verified caller of a request (nil when authorization is not wired).
func principal(c *gin.Context) *auth.Principal {
	if p, ok := c.Get(principalKey); ok {
		return p.(*auth.Principal)
	}
	return nil
}

// requestAccess returns the access authorize decided for the request.
func requestAccess(c *gin.Context) access {
	if a, ok := c.Get(accessKey); ok {
		return a.(access)
	}
	return access{}
}

// actionFor maps a route's interaction, and the form the request takes, to the action the
// scopes must allow.
func actionFor(c *gin.Context, in fhir.Interaction) (auth.Action, bool) {
	conditional := c.Param("id") == ""
	switch in {
	case fhir.InteractionRead:
		return auth.ActionRead, true
	case fhir.InteractionVRead:
		return auth.ActionVRead, true
	case fhir.InteractionHistoryInstance:
		return auth.ActionHistoryInstance, true
	case fhir.InteractionHistoryType:
		return auth.ActionHistoryType, true
	case fhir.InteractionSearchType:
		return auth.ActionSearch, true
	case fhir.InteractionCreate:
		// Present at all, even empty or repeated, makes it conditional: exactly the test
		// the create handler applies.
		if _, ok := c.Request.Header[ifNoneExist]; ok {
			return auth.ActionConditionalCreate, true
		}
		return auth.ActionCreate, true
	case fhir.InteractionUpdate, fhir.InteractionPatch:
		if conditional {
			return auth.ActionConditionalUpdate, true
		}
		return auth.ActionUpdate, true
	case fhir.InteractionDelete:
		if conditional {
			return auth.ActionConditionalDelete, true
		}
		return auth.ActionDelete, true
	}
	return 0, false
}

// authorize wraps a route's handler: it checks the caller's scopes for the interaction on
// the type in the URL and records whether the request is limited to a patient's compartment.
func (s *Server) authorize(in fhir.Interaction, next handlerFunc) handlerFunc {
	return func(c *gin.Context) error {
		p := principal(c)
		typ := c.Param("type")
		rt := s.opts.Service.Registry().Type(typ)
		if in == "" || rt == nil {
			// Unknown types answer 404 from the handler, which reveals nothing.
			return next(c)
		}
		if !rt.Offers(in) {
			return fhir.Errorf(fhir.KindMethodNotAllowed, "%s resources offer no %s interaction: the server alone writes them, and they are never changed", typ, in)
		}
		action, ok := actionFor(c, in)
		if !ok {
			return fhir.Errorf(fhir.KindForbidden, "The %s interaction is not covered by any scope", in)
		}
		compartment, err := reach(p, typ, action, isWrite(in))
		if err != nil {
			return err
		}
		a := access{principal: p, compartment: compartment}
		c.Set(accessKey, a)
		ctx := fhir.WithWriteGuard(auth.WithPrincipal(c.Request.Context(), p), s.writeGuard(a, typ))
		if a.compartment != "" {
			// What a patient may change of a resource it may write (a shared care plan).
			ctx = fhir.WithPatientWriter(ctx, p.Patient)
		}
		c.Request = c.Request.WithContext(ctx)
		return next(c)
	}
}

// reach decides how much of typ the principal p may reach for action (a write when write is
// set): all of it (""), the resources of its patient's compartment ("Patient/<id>"), or
// nothing, with a 403 that says why. Interactions and the conditional references of a
// transaction decide with it.
func reach(p *auth.Principal, typ string, action auth.Action, write bool) (string, error) {
	level, err := p.Authorize(typ, action)
	if err != nil || level != auth.AccessPatient {
		return "", err
	}
	if auditOnlyTypes[typ] {
		return "", fhir.Errorf(fhir.KindForbidden, "%s resources can be read or written only with user/ or system/ scopes, not patient/ ones", typ)
	}
	if write && !isPatientData(typ) {
		return "", fhir.Errorf(fhir.KindForbidden, "A token with patient/ scopes cannot change %s resources: they are not patient data", typ)
	}
	return "Patient/" + p.Patient, nil
}

func isWrite(in fhir.Interaction) bool {
	switch in {
	case fhir.InteractionCreate, fhir.InteractionUpdate, fhir.InteractionPatch, fhir.InteractionDelete:
		return true
	}
	return false
}

// isPatientData reports whether resources of typ belong to a patient's compartment.
func isPatientData(typ string) bool {
	_, ok := search.CompartmentParams[typ]
	return ok
}

// writeGuard holds every write of a request to what its access allows. Each write is
// judged by the scopes for what it really does (an update that creates needs create
// permission; a conditional update or delete, update or delete permission), and where only
// patient/ scopes allow it, it must stay in the patient's compartment: the version replaced
// must be the patient's (else it is "not known"), and so must the version written.
//
// The service first asks with next nil, before it reports anything about prev (If-Match):
// another patient's resource must read as unknown there too.
func (s *Server) writeGuard(a access, typ string) fhir.WriteGuard {
	return func(prev, next *fhir.Resource) error {
		p := a.principal
		own := ""
		if p != nil && p.Patient != "" {
			own = "Patient/" + p.Patient
		}
		limited := a.compartment != ""
		// The same answer, word for word, as for an id that was never written.
		notKnown := func(r *fhir.Resource) error {
			return fhir.Errorf(fhir.KindNotFound, "%s/%s is not known", r.Type, r.ID)
		}
		if prev != nil && limited && isPatientData(prev.Type) && !slices.Contains(prev.Compartments, a.compartment) {
			return notKnown(prev)
		}
		if next == nil || p == nil {
			return nil
		}
		if limited && prev == nil && next.Method == http.MethodPut {
			// Update as create is not offered to patient-limited tokens: it would answer an
			// unused id (created) otherwise than another patient's (not known).
			return notKnown(next)
		}
		exists := prev != nil && !prev.Deleted
		var action auth.Action
		switch {
		case next.Deleted:
			action = auth.ActionDelete
		case exists:
			action = auth.ActionUpdate
		default:
			action = auth.ActionCreate
		}
		level := p.Access(next.Type, action)
		if level == auth.AccessNone {
			if limited {
				// A patient-limited caller learns nothing of ids it may not create.
				return notKnown(next)
			}
			return fhir.Errorf(fhir.KindForbidden, "%s/%s does not exist, and the access token does not allow creating %s resources", next.Type, next.ID, next.Type)
		}
		if level != auth.AccessPatient && !limited {
			return nil
		}
		if !isPatientData(next.Type) {
			return fhir.Errorf(fhir.KindForbidden, "A token with patient/ scopes cannot change %s resources: they are not patient data", next.Type)
		}
		if prev != nil && !slices.Contains(prev.Compartments, own) {
			return notKnown(prev)
		}
		if next.Deleted {
			return nil
		}
		cmp, err := s.compartmentsOf(next)
		if err != nil {
			return err
		}
		if !slices.Contains(cmp, own) {
			return fhir.Errorf(fhir.KindForbidden, "This access token may only write %s resources whose subject is %s", next.Type, own).At(next.Type + ".subject")
		}
		return nil
	}
}

// compartmentsOf returns the patient compartments a resource about to be written is in.
func (s *Server) compartmentsOf(r *fhir.Resource) ([]string, error) {
	if !isPatientData(r.Type) || r.Tree == nil {
		return nil, nil
	}
	ix, err := search.Extract(r.Type, r.Tree, search.ExtractOptions{BaseURL: s.opts.BaseURL, Location: s.opts.Location})
	if err != nil {
		return nil, err
	}
	return search.Compartments(r.Type, ix), nil
}

// mayInclude says which types a search may add with _include and _revinclude, and how far:
// those the caller may read, each limited to the patient's compartment where only patient/
// scopes allow reading it (whatever allowed the search itself), never the audit trail to
// patient/ scopes.
func (s *Server) mayInclude(c *gin.Context) func(string) (bool, string) {
	a := requestAccess(c)
	if a.principal == nil {
		return nil
	}
	return func(typ string) (bool, string) {
		switch a.principal.Access(typ, auth.ActionRead) {
		case auth.AccessAll:
			if a.compartment != "" {
				return true, a.compartment
			}
			return true, ""
		case auth.AccessPatient:
			if auditOnlyTypes[typ] {
				return false, ""
			}
			return true, "Patient/" + a.principal.Patient
		}
		return false, ""
	}
}

// visible returns a not-found error for a resource the request may not see: one of
// patient data outside the request's compartment. It reads exactly as an unknown id does.
func visible(c *gin.Context, r *fhir.Resource) error {
	a := requestAccess(c)
	if a.compartment == "" || r == nil || !isPatientData(r.Type) || slices.Contains(r.Compartments, a.compartment) {
		return nil
	}
	return fhir.Errorf(fhir.KindNotFound, "%s/%s is not known", r.Type, r.ID)
}

// knowable returns a not-found error, before anything else is said about typ/id, when the
// request is limited to a patient's compartment and the resource's current version is not in
// it: another patient's resource, its versions and its history are not known to the request.
func (s *Server) knowable(c *gin.Context, typ, id string) error {
	if compartmentOf(c) == "" || !isPatientData(typ) || !s.svc.Registry().Supports(typ) || !fhir.ValidID(id) {
		return nil
	}
	cur, err := s.svc.Store().Current(c.Request.Context(), typ, id)
	if err == nil {
		err = visible(c, cur)
	}
	return err
}

// compartmentOf is the compartment a request is limited to, "" when none.
func compartmentOf(c *gin.Context) string { return requestAccess(c).compartment }

// requestID is the id of the request (see requestContext).
func requestID(c *gin.Context) string {
	v, _ := c.Get(requestIDKey)
	id, _ := v.(string)
	return id
}
