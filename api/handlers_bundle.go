package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/patient-involvement/fhir-server/internal/audit"
	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/conditional"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/patch"
)

// Batch and transaction Bundles (http.html#transaction). Every entry is served as its own
// request through the same routes, middleware and handlers as a single interaction: it is
// authenticated with the caller's token, authorised for its own interaction, checked,
// versioned and audited exactly as it would be on its own. What a transaction adds is a
// unit of work in the entries' context (fhir.UnitOfWork): their writes are staged, not
// stored, and stored together at the end by the store's PutAll, all or nothing; and the
// rewriting of the references between its entries.

// DefaultMaxBundleEntries is the most entries a batch or transaction may hold when
// Options.MaxBundleEntries is zero.
const DefaultMaxBundleEntries = 1000

// auditInteractionKey names, for a request that serves more than one interaction (POST
// /fhir), the interaction its AuditEvent records.
const auditInteractionKey = "fhir.audit.interaction"

// requestBundle is what the server reads of a Bundle sent to POST /fhir.
type requestBundle struct {
	ResourceType string         `json:"resourceType"`
	Type         string         `json:"type"`
	Entry        []requestEntry `json:"entry"`
}

type requestEntry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
	Request  *struct {
		Method          string `json:"method"`
		URL             string `json:"url"`
		IfNoneMatch     string `json:"ifNoneMatch"`
		IfModifiedSince string `json:"ifModifiedSince"`
		IfMatch         string `json:"ifMatch"`
		IfNoneExist     string `json:"ifNoneExist"`
	} `json:"request"`
}

// bundleEntry is one entry being served.
type bundleEntry struct {
	n int
	// header holds the request headers its request element gives (If-Match, …).
	header http.Header
	// fullURL is the entry's fullUrl, which the other entries of a transaction may refer to.
	fullURL string
	// name says which entry it is, for messages: "entry 3 (PUT CarePlan/1)".
	name string
	// key is the resource it changes, when its URL names one ("CarePlan/1", or the URL of
	// a conditional write), for refusing two entries of a transaction that change one.
	key    string
	method string
	// path is its URL relative to the base: type, id and query; target is path without the
	// query.
	path, target string
	body         []byte
	// contentType is the media type of body.
	contentType string
	// assigned is the id a transaction's plain create takes.
	assigned string
	// ifNoneExist are a create's conditions.
	ifNoneExist string
	res         *entryResult
}

// entryResult is the answer to one entry.
type entryResult struct {
	status int
	header http.Header
	body   []byte
}

// bundleRun is what the entries of one Bundle share through their requests' context.
type bundleRun struct {
	mu sync.Mutex
	// audits are the entries' audit records, kept until the Bundle's outcome is known.
	audits []audit.Record
}

type bundleRunKey struct{}

// runOf is the Bundle a request is an entry of, nil for a request of its own.
func runOf(c *gin.Context) *bundleRun {
	r, _ := c.Request.Context().Value(bundleRunKey{}).(*bundleRun)
	return r
}

// bundle serves POST /fhir.
//
//	@Summary		Batch or transaction
//	@Description	Serves a Bundle of type batch or transaction: each entry's request (create, conditional create, update, conditional update, patch, delete, conditional delete, read, vread, search, history) is served as it would be on its own, with the caller's token, and answered in the response Bundle's entry of the same position (response.status, location, etag, lastModified, and an OperationOutcome for failures).
//	@Description	A batch serves its entries one by one in order; one that fails does not stop the others.
//	@Description	A transaction is all or nothing: its entries are served in the order DELETE, POST, PUT and PATCH, then GET (which see the data as it was before the transaction), and either every change is stored or, when any entry fails, none is and the answer is that entry's error, naming it.
//	@Description	In a transaction, an entry's fullUrl (urn:uuid:, urn:oid: or the URL of a created resource) is replaced by the created resource's Type/id wherever another entry refers to it, and a conditional reference (Type?criteria) by the one resource it matches (404 when none, 412 when several).
//	@Description	Two entries of a transaction that change the same resource are refused (400), naming both. Prefer: return=minimal|representation|OperationOutcome applies to every entry.
//	@ID				transaction
//	@Tags			Server
//	@Accept			application/fhir+json,application/json
//	@Produce		application/fhir+json,application/json
//	@Param			bundle			body		Resource	true	"A Bundle of type batch or transaction"
//	@Param			Prefer			header		string	false	"What each entry's successful write returns: the resource (return=representation, the default), none (return=minimal) or an OperationOutcome (return=OperationOutcome)"	Enums(return=representation,return=minimal,return=OperationOutcome)
//	@Param			_format			query		string	false	"Response format; overrides Accept. Only JSON is served."	Enums(json,application/fhir+json,application/json)
//	@Param			_pretty			query		boolean	false	"true indents the JSON body"
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response and the server log; the server makes one when absent or malformed"
//	@Success		200				{object}	Bundle					"The batch-response or transaction-response Bundle"
//	@Failure		400				{object}	fhir.OperationOutcome	"Not a batch or transaction Bundle, an entry without a request, two entries changing one resource, or (transaction) an entry refused as invalid"
//	@Failure		403				{object}	fhir.OperationOutcome	"Transaction: the token does not allow one of the entries; the entry is named"
//	@Failure		404				{object}	fhir.OperationOutcome	"Transaction: an entry names a resource that is not known, or a conditional reference matches nothing"
//	@Failure		409				{object}	fhir.OperationOutcome	"Transaction: a resource it changes was changed by another request meanwhile; retry"
//	@Failure		412				{object}	fhir.OperationOutcome	"Transaction: an entry's If-Match does not hold, or conditional criteria match more than one resource"
//	@Failure		413				{object}	fhir.OperationOutcome	"The Bundle has more entries than the server takes at once, or the body is larger than its limit"
//	@Failure		422				{object}	fhir.OperationOutcome	"Transaction: an entry breaks a rule of its content; or the database (a standalone MongoDB) cannot store a transaction"
//	@Failure		415				{object}	fhir.OperationOutcome	"Content-Type is not JSON"
//	@Failure		406				{object}	fhir.OperationOutcome	"Neither _format nor Accept names JSON"
//	@Failure		500				{object}	fhir.OperationOutcome	"The server failed; the detail is in its log under the request id"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Security		BearerAuth
//	@Router			/fhir [post]
func (s *Server) bundle(c *gin.Context) error {
	if runOf(c) != nil {
		return fhir.Errorf(fhir.KindInvalid, "A Bundle entry cannot itself be a batch or transaction")
	}
	data, err := io.ReadAll(c.Request.Body)
	if err != nil {
		return err
	}
	var b requestBundle
	if err := json.Unmarshal(data, &b); err != nil {
		return fhir.Errorf(fhir.KindInvalid, "The body is not a Bundle: %v", err)
	}
	if b.ResourceType != "Bundle" {
		return fhir.Errorf(fhir.KindInvalid, "POST /fhir takes a Bundle of type batch or transaction, not a %q", b.ResourceType).At("resourceType")
	}
	if b.Type != "batch" && b.Type != "transaction" {
		return fhir.Errorf(fhir.KindInvalid, "POST /fhir takes a Bundle of type batch or transaction, not %q", b.Type).At("Bundle.type")
	}
	if err := checkEnvelope(data); err != nil {
		return err
	}
	c.Set(auditInteractionKey, b.Type)
	if max := s.maxBundleEntries(); len(b.Entry) > max {
		return fhir.Errorf(fhir.KindTooLarge, "The Bundle has %d entries: this server takes at most %d at once; send it in parts", len(b.Entry), max)
	}
	// Each entry is a request against the caller's rate limit; the Bundle counted one.
	if n := len(b.Entry); n > 1 {
		if err := s.limits.callers.allow(s.callerKey(c), n-1); err != nil {
			return err
		}
	}
	run := &bundleRun{}
	respType, entries, err := s.serveBundle(c, run, &b)
	// The entries' audit records are kept before anything is answered.
	s.recordEntryAudits(c, run)
	if err != nil {
		return err
	}
	return s.writeBundleResponse(c, respType, entries)
}

// serveBundle serves the entries of b and returns the type of the response Bundle and the
// entries with their answers; a transaction that fails returns its error.
func (s *Server) serveBundle(c *gin.Context, run *bundleRun, b *requestBundle) (string, []*bundleEntry, error) {
	entries := make([]*bundleEntry, len(b.Entry))
	for i := range b.Entry {
		e, err := s.readEntry(c, i, &b.Entry[i])
		if err != nil {
			if b.Type == "transaction" {
				return "", nil, err
			}
			entries[i] = &bundleEntry{n: i, res: errorResult(err)}
			continue
		}
		entries[i] = e
	}
	if b.Type == "batch" {
		for _, e := range entries {
			if e.res == nil {
				s.serveEntry(c, run, e, c.Request.Context())
			}
		}
		return "batch-response", entries, nil
	}
	return "transaction-response", entries, s.transaction(c, run, entries)
}

// maxBundleEntries is the configured bound on a Bundle's entries.
func (s *Server) maxBundleEntries() int {
	if s.opts.MaxBundleEntries > 0 {
		return s.opts.MaxBundleEntries
	}
	return DefaultMaxBundleEntries
}

// readEntry reads the request of entry i.
func (s *Server) readEntry(c *gin.Context, i int, re *requestEntry) (*bundleEntry, error) {
	at := fmt.Sprintf("Bundle.entry[%d].request", i)
	if re.Request == nil || re.Request.Method == "" || re.Request.URL == "" {
		return nil, fhir.Errorf(fhir.KindInvalid, "Entry %d has no request with a method and a url: every entry of a batch or transaction says what to do", i).At(at)
	}
	method := strings.ToUpper(re.Request.Method)
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return nil, fhir.Errorf(fhir.KindInvalid, "Entry %d has the method %q: use GET, HEAD, POST, PUT, PATCH or DELETE", i, re.Request.Method).At(at + ".method")
	}
	path := strings.TrimSpace(re.Request.URL)
	base := s.baseURL(c)
	if strings.HasPrefix(path, base+"/") {
		path = strings.TrimPrefix(path, base+"/")
	}
	path = strings.TrimPrefix(path, "/")
	if u, err := url.Parse(path); err != nil || u.IsAbs() || strings.HasPrefix(path, "fhir/") || path == "" {
		return nil, fhir.Errorf(fhir.KindInvalid, "Entry %d has the url %q: give it relative to the server's base, e.g. QuestionnaireResponse/123 or CarePlan?subject=Patient/1", i, re.Request.URL).At(at + ".url")
	}
	e := &bundleEntry{n: i, method: method, path: path, target: strings.SplitN(path, "?", 2)[0], fullURL: re.FullURL,
		ifNoneExist: re.Request.IfNoneExist, name: fmt.Sprintf("entry %d (%s %s)", i, method, path)}
	if method != http.MethodGet && method != http.MethodHead && method != http.MethodPost {
		e.key = path
	}
	switch method {
	case http.MethodPost, http.MethodPut:
		if len(re.Resource) == 0 {
			return nil, fhir.Errorf(fhir.KindInvalid, "Entry %d (%s %s) has no resource to write", i, method, path).At(fmt.Sprintf("Bundle.entry[%d].resource", i))
		}
		e.body, e.contentType = re.Resource, mediaFHIRJSON
	case http.MethodPatch:
		body, ct, err := patchEntryBody(i, re.Resource)
		if err != nil {
			return nil, err
		}
		e.body, e.contentType = body, ct
	}
	e.header = http.Header{}
	for name, v := range map[string]string{"If-None-Match": re.Request.IfNoneMatch, "If-Modified-Since": re.Request.IfModifiedSince, "If-Match": re.Request.IfMatch, ifNoneExist: re.Request.IfNoneExist} {
		if v != "" {
			e.header.Set(name, v)
		}
	}
	return e, nil
}

// patchEntryBody is the patch a PATCH entry carries: a Binary holding a JSON Patch (as
// FHIR says), or a Parameters resource (FHIRPath Patch).
func patchEntryBody(i int, res json.RawMessage) ([]byte, string, error) {
	at := fmt.Sprintf("Bundle.entry[%d].resource", i)
	var head struct {
		ResourceType string `json:"resourceType"`
		ContentType  string `json:"contentType"`
		Data         string `json:"data"`
	}
	if len(res) == 0 || json.Unmarshal(res, &head) != nil {
		return nil, "", fhir.Errorf(fhir.KindInvalid, "Entry %d is a PATCH without a patch: send a Binary holding a JSON Patch or a Parameters resource (FHIRPath Patch)", i).At(at)
	}
	switch head.ResourceType {
	case "Parameters":
		return res, mediaFHIRJSON, nil
	case "Binary":
		if !isJSONPatch(head.ContentType) {
			return nil, "", fhir.Errorf(fhir.KindInvalid, "Entry %d: the Binary of a PATCH must have contentType %s, not %q", i, patch.MediaJSONPatch, head.ContentType).At(at + ".contentType")
		}
		data, err := base64.StdEncoding.DecodeString(head.Data)
		if err != nil {
			return nil, "", fhir.Errorf(fhir.KindInvalid, "Entry %d: the Binary's data is not base64: %v", i, err).At(at + ".data")
		}
		return data, patch.MediaJSONPatch, nil
	}
	return nil, "", fhir.Errorf(fhir.KindInvalid, "Entry %d is a PATCH with a %q: send a Binary holding a JSON Patch or a Parameters resource (FHIRPath Patch)", i, head.ResourceType).At(at + ".resourceType")
}

// transaction serves the entries of a transaction Bundle all or nothing.
func (s *Server) transaction(c *gin.Context, run *bundleRun, entries []*bundleEntry) error {
	// Two entries that change one resource: refused before anything is done.
	seen := map[string]*bundleEntry{}
	for _, e := range entries {
		if e.key == "" {
			continue
		}
		if first, ok := seen[e.key]; ok {
			return fhir.Errorf(fhir.KindInvalid, "%s and %s both change %s: a transaction may change each resource only once", first.name, e.name, e.key)
		}
		seen[e.key] = e
	}
	// One transaction at a time: they never interleave, and their staged versions are
	// checked once more when they are stored.
	s.txMu.Lock()
	defer s.txMu.Unlock()

	unit := fhir.NewUnitOfWork()
	refs := map[string]string{}
	for _, e := range entries {
		if e.method == http.MethodPost {
			e.assigned = fhir.NewID()
			if e.ifNoneExist == "" {
				s.mapFullURL(refs, e.fullURL, e.target, e.assigned)
			}
		}
	}
	if err := s.resolveConditionalReferences(c, entries, refs); err != nil {
		return err
	}
	// R4 order: DELETE, POST (conditional creates first, their ids being known only once
	// they ran), PUT, PATCH; then GET, which sees the data as it was before.
	order := func(e *bundleEntry) int {
		switch e.method {
		case http.MethodDelete:
			return 0
		case http.MethodPost:
			if e.ifNoneExist != "" {
				return 1
			}
			return 2
		case http.MethodPut:
			return 3
		case http.MethodPatch:
			return 4
		}
		return 5
	}
	// Within each, Questionnaires first: the responses of the same group are checked
	// against them as they will be stored.
	rank := func(e *bundleEntry) int {
		r := 2 * order(e)
		if typ, _, _ := strings.Cut(e.target, "/"); typ != "Questionnaire" {
			r++
		}
		return r
	}
	sorted := append([]*bundleEntry(nil), entries...)
	sort.SliceStable(sorted, func(i, j int) bool { return rank(sorted[i]) < rank(sorted[j]) })
	ctx := fhir.WithUnitOfWork(c.Request.Context(), unit)
	for _, e := range sorted {
		if e.method == http.MethodGet || e.method == http.MethodHead {
			// Outside the unit: the data as it was before the transaction.
			s.serveEntry(c, run, e, c.Request.Context())
			continue
		}
		e.body = rewriteReferences(e.body, refs)
		ectx := fhir.WithWriter(ctx, e.name)
		if e.assigned != "" {
			ectx = fhir.WithAssignedID(ectx, e.assigned)
		}
		s.serveEntry(c, run, e, ectx)
		if e.res.status >= 300 {
			return s.failTransaction(run, e, nil)
		}
		if e.method == http.MethodPost && e.ifNoneExist != "" {
			// A conditional create that matched keeps the id it matched.
			if id := createdID(e.res); id != "" {
				s.mapFullURL(refs, e.fullURL, e.target, id)
			}
		}
	}
	if err := s.svc.Commit(c.Request.Context(), unit); err != nil {
		if errors.Is(err, fhir.ErrVersionConflict) {
			err = fhir.Errorf(fhir.KindConflict, "A resource this transaction changes was changed by another request while it ran; nothing was written: send it again")
		}
		return s.failTransaction(run, nil, err)
	}
	return nil
}

// failTransaction answers a transaction that stores nothing: because entry e failed
// (its answer is in e.res), or err. The audit records of the entries say so.
func (s *Server) failTransaction(run *bundleRun, e *bundleEntry, err error) error {
	if e != nil {
		o := outcomeOf(e.res)
		kind := kindOfStatus(e.res.status)
		err = &fhir.Error{Kind: kind, Issues: append([]fhir.Issue{{
			Severity: fhir.SeverityError, Code: kind.IssueCode(),
			Diagnostics: fmt.Sprintf("The transaction failed at %s, which answered %d; nothing was written", e.name, e.res.status),
		}}, o...)}
	}
	status := fhir.ErrorKind(err).Status()
	run.mu.Lock()
	for i := range run.audits {
		if run.audits[i].Outcome < 300 {
			run.audits[i].Outcome = status
			run.audits[i].Detail = "Not stored: the transaction it was part of was rolled back"
		}
	}
	run.mu.Unlock()
	return err
}

// kindOfStatus is the error kind whose answer is status, for repeating an entry's failure
// as the transaction's.
func kindOfStatus(status int) fhir.Kind {
	for k := fhir.KindInternal; k <= fhir.KindTooManyRequests; k++ {
		if k.Status() == status {
			return k
		}
	}
	return fhir.KindInternal
}

// outcomeOf returns the problems an entry's OperationOutcome answer lists.
func outcomeOf(r *entryResult) []fhir.Issue {
	var o fhir.OperationOutcome
	if json.Unmarshal(r.body, &o) != nil || o.ResourceType != "OperationOutcome" {
		return nil
	}
	return o.Issue
}

// mapFullURL records that the entry with fullUrl creates typ/id: references to the fullUrl
// (and, for a URL ending in a type and id, to that type and id) become typ/id.
func (s *Server) mapFullURL(refs map[string]string, fullURL, typ, id string) {
	if fullURL == "" {
		return
	}
	refs[fullURL] = typ + "/" + id
	if strings.HasPrefix(fullURL, "urn:") {
		return
	}
	parts := strings.Split(strings.TrimRight(fullURL, "/"), "/")
	if n := len(parts); n >= 2 && parts[n-2] == typ && fhir.ValidID(parts[n-1]) {
		refs[typ+"/"+parts[n-1]] = typ + "/" + id
	}
}

// conditionalReference is a reference by search criteria: Type?criteria.
var conditionalReference = regexp.MustCompile(`^([A-Z][A-Za-z]+)\?(.+)$`)

// resolveConditionalReferences finds every conditional reference in the entries' resources
// and maps it to the one resource it matches, among those the caller may search.
func (s *Server) resolveConditionalReferences(c *gin.Context, entries []*bundleEntry, refs map[string]string) error {
	for _, e := range entries {
		var err error
		walkStrings(e.body, func(key, v string) {
			if err != nil || key != "reference" {
				return
			}
			if _, done := refs[v]; done {
				return
			}
			m := conditionalReference.FindStringSubmatch(v)
			if m == nil {
				return
			}
			var r *fhir.Resource
			if r, err = s.resolveReference(c, m[1], m[2]); err != nil {
				err = fhir.Errorf(fhir.ErrorKind(err), "%s refers to %s: %s", e.name, v, strings.TrimSuffix(err.Error(), "."))
				return
			}
			refs[v] = r.Type + "/" + r.ID
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// resolveReference resolves one conditional reference as a search by the caller would.
func (s *Server) resolveReference(c *gin.Context, typ, query string) (*fhir.Resource, error) {
	q, err := conditional.ParseQuery(typ, query)
	if err != nil {
		return nil, err
	}
	criteria, err := s.cond.Criteria(typ, q)
	if err != nil {
		return nil, err
	}
	compartment, err := reach(principal(c), typ, auth.ActionSearch, false)
	if err != nil {
		return nil, err
	}
	return s.cond.Resolve(c.Request.Context(), criteria, conditional.Scope{BaseURL: s.baseURL(c), Compartment: compartment})
}

// createdID is the id in the Location of a create's answer.
func createdID(r *entryResult) string {
	loc := r.header.Get("Location")
	parts := strings.Split(loc, "/")
	for i := len(parts) - 1; i >= 2; i-- {
		if parts[i-1] == "_history" {
			return parts[i-2]
		}
	}
	return ""
}

// serveEntry serves entry e as a request of its own through the server's routes, with the
// caller's credentials and ctx, and keeps its answer in e.res.
func (s *Server) serveEntry(c *gin.Context, run *bundleRun, e *bundleEntry, ctx context.Context) {
	parent := c.Request
	var body io.Reader = http.NoBody
	if e.body != nil {
		body = bytes.NewReader(e.body)
	}
	req, err := http.NewRequestWithContext(context.WithValue(ctx, bundleRunKey{}, run), e.method, "/fhir/"+e.path, body)
	if err != nil {
		e.res = errorResult(fhir.Errorf(fhir.KindInvalid, "%s: the url cannot be read: %v", e.name, err))
		return
	}
	req.Host, req.RemoteAddr, req.TLS = parent.Host, parent.RemoteAddr, parent.TLS
	for k, v := range e.header {
		req.Header[k] = v
	}
	for _, h := range []string{"Authorization", "Prefer", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"} {
		if v := parent.Header.Values(h); len(v) > 0 {
			req.Header[h] = v
		}
	}
	req.Header.Set("Accept", mediaFHIRJSON)
	if e.contentType != "" {
		req.Header.Set("Content-Type", e.contentType)
	}
	req.Header.Set(RequestIDHeader, requestID(c)+"-"+strconv.Itoa(e.n))
	rec := httptest.NewRecorder() // the first status written wins; none written is 200
	s.engine.ServeHTTP(rec, req)
	e.res = &entryResult{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// errorResult is the answer an entry gets for err without being served.
func errorResult(err error) *entryResult {
	return &entryResult{status: fhir.ErrorKind(err).Status(), header: http.Header{}, body: fhir.OutcomeFor(err).JSON()}
}

// writeBundleResponse answers with the batch-response or transaction-response Bundle.
func (s *Server) writeBundleResponse(c *gin.Context, typ string, entries []*bundleEntry) error {
	out := newBundle(typ, time.Now())
	base := s.baseURL(c)
	for _, e := range entries {
		r := e.res
		resp := &EntryResponse{Status: strconv.Itoa(r.status) + " " + http.StatusText(r.status), Etag: r.header.Get("ETag")}
		if loc := r.header.Get("Location"); loc != "" {
			resp.Location = strings.TrimPrefix(loc, base+"/")
		}
		if lm, err := http.ParseTime(r.header.Get("Last-Modified")); err == nil {
			resp.LastModified = fhir.FormatInstant(lm)
		}
		entry := BundleEntry{Response: resp}
		if ct := r.header.Get("Content-Type"); len(r.body) > 0 && !isJSONMedia(ct) {
			// What is not FHIR JSON (a report's CSV or page) is the entry's resource as a Binary.
			bin, err := marshalJSON(struct {
				ResourceType string `json:"resourceType"`
				ContentType  string `json:"contentType"`
				Data         string `json:"data"`
			}{"Binary", ct, base64.StdEncoding.EncodeToString(r.body)})
			if err != nil {
				return fhir.Wrap(err, "encode %s", typ)
			}
			entry.Resource = bin
		} else if len(bytes.TrimSpace(r.body)) > 0 {
			var head struct {
				ResourceType string `json:"resourceType"`
				Meta         struct {
					LastUpdated string `json:"lastUpdated"`
				} `json:"meta"`
			}
			_ = json.Unmarshal(r.body, &head)
			if head.ResourceType == "OperationOutcome" && (r.status >= 300 || e.method != http.MethodGet) {
				resp.Outcome = json.RawMessage(r.body)
			} else {
				entry.Resource = json.RawMessage(r.body)
				if head.Meta.LastUpdated != "" && head.ResourceType != "Bundle" {
					resp.LastModified = head.Meta.LastUpdated
				}
			}
		}
		if resp.Location != "" {
			entry.FullURL = base + "/" + strings.Split(resp.Location, "/_history/")[0]
		}
		out.Entry = append(out.Entry, entry)
	}
	data, err := encodeBundle(out)
	if err != nil {
		return fhir.Wrap(err, "encode %s", typ)
	}
	writeMaskedJSON(c, http.StatusOK, data)
	return nil
}

// recordEntryAudits records the audit records of a Bundle's entries, once its outcome is
// known, before the Bundle is answered.
func (s *Server) recordEntryAudits(c *gin.Context, run *bundleRun) {
	if s.opts.Audit == nil {
		return
	}
	run.mu.Lock()
	recs := run.audits
	run.audits = nil
	run.mu.Unlock()
	for _, rec := range recs {
		if err := s.opts.Audit.Record(rec); err != nil {
			loggerFrom(c).Error("audit record of a Bundle entry not kept: the request is aborted unanswered", "err", err)
			panic(http.ErrAbortHandler)
		}
	}
}

// rewriteReferences replaces, in the JSON data, every string that refs maps (the fullUrl
// of an entry, a conditional reference) with what it maps to, and such URLs in the href
// and src of narrative; every other byte stays as it is.
func rewriteReferences(data []byte, refs map[string]string) []byte {
	if len(refs) == 0 || len(data) == 0 {
		return data
	}
	var out bytes.Buffer
	out.Grow(len(data))
	for i := 0; i < len(data); {
		if data[i] != '"' {
			out.WriteByte(data[i])
			i++
			continue
		}
		end := stringEnd(data, i)
		raw := data[i:end]
		var v string
		if json.Unmarshal(raw, &v) == nil {
			if to, ok := refs[v]; ok {
				b, _ := marshalJSON(to)
				out.Write(b)
				i = end
				continue
			}
			if strings.Contains(v, "<div") && (strings.Contains(v, `href="`) || strings.Contains(v, `src="`)) {
				nv := v
				for from, to := range refs {
					nv = strings.ReplaceAll(nv, `href="`+from+`"`, `href="`+to+`"`)
					nv = strings.ReplaceAll(nv, `src="`+from+`"`, `src="`+to+`"`)
				}
				if nv != v {
					b, _ := marshalJSON(nv)
					out.Write(b)
					i = end
					continue
				}
			}
		}
		out.Write(raw)
		i = end
	}
	return out.Bytes()
}

// stringEnd returns the index after the JSON string that starts at data[start] (a quote).
func stringEnd(data []byte, start int) int {
	for i := start + 1; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(data)
}

// walkStrings calls fn with every string value of the JSON data and the key it is the
// value of ("" inside arrays).
func walkStrings(data []byte, fn func(key, v string)) {
	var tree any
	if json.Unmarshal(data, &tree) != nil {
		return
	}
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, c := range t {
				walk(k, c)
			}
		case []any:
			for _, c := range t {
				walk(key, c)
			}
		case string:
			fn(key, t)
		}
	}
	walk("", tree)
}

// checkEnvelope validates the Bundle as R4 defines it, but for its entries' resources,
// which each entry's own request checks (so that in a batch an invalid resource fails only
// its entry): an unknown or misspelt element, a method that is no HTTP verb of R4 or a
// value of the wrong type is refused, never ignored.
func checkEnvelope(data []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return fhir.Errorf(fhir.KindInvalid, "The body is not a Bundle: %v", err)
	}
	if raw, ok := top["entry"]; ok {
		var entries []map[string]json.RawMessage
		if err := json.Unmarshal(raw, &entries); err != nil {
			return fhir.Errorf(fhir.KindInvalid, "Bundle.entry is not a list of entries: %v", err).At("Bundle.entry")
		}
		for _, e := range entries {
			if _, ok := e["resource"]; ok {
				// Checked by the entry's own request; here, a stand-in that is valid R4.
				e["resource"] = json.RawMessage(`{"resourceType":"Basic","code":{"text":"checked by its entry's request"}}`)
			}
		}
		b, err := json.Marshal(entries)
		if err != nil {
			return fhir.Wrap(err, "encode the Bundle's entries")
		}
		top["entry"] = b
	}
	envelope, err := json.Marshal(top)
	if err != nil {
		return fhir.Wrap(err, "encode the Bundle")
	}
	_, err = fhir.ParseBody(envelope, "Bundle")
	return err
}
