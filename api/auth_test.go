package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/patient-involvement/fhir-server/api"
	"github.com/patient-involvement/fhir-server/internal/audit"
	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/config"
)

// authServer is the real server in dev mode (tokens signed with a key in its data dir),
// with the audit trail written to its database.
type authServer struct {
	*testServer
	dataDir string
	key     *ecdsa.PrivateKey
	kid     string
	audit   *audit.Writer
}

func newAuthServer(t *testing.T, opts ...serverOption) *authServer {
	t.Helper()
	dir := t.TempDir()
	verifier, err := auth.NewVerifier(context.Background(), auth.Options{
		Mode: auth.ModeDev, Issuer: config.DevIssuer, Audience: config.DevAudience, DataDir: dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	var w *audit.Writer
	srv := newTestServer(t, append([]serverOption{
		func(o *api.Options) { o.Auth = verifier },
		withAudit(t, &w, audit.WriterOptions{Source: audit.Source{Observer: "fhir-server-test"}, Dir: filepath.Join(dir, "audit-journal")}),
	}, opts...)...)
	data, err := os.ReadFile(filepath.Join(dir, auth.DevKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		k, err = x509.ParseECPrivateKey(block.Bytes)
	}
	if err != nil {
		t.Fatal(err)
	}
	return &authServer{
		testServer: srv,
		dataDir:    dir, key: k.(*ecdsa.PrivateKey), kid: verifier.DevKey().KeyID(), audit: w,
	}
}

// mint signs a token with the dev key.
func (s *authServer) mint(o auth.TokenOptions) string {
	s.t.Helper()
	tok, err := auth.MintDevToken(s.dataDir, o)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// sign makes a token with any claims and header, signed with key by method.
func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func goodClaims(scope string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"iss": config.DevIssuer, "aud": config.DevAudience, "sub": "u1", "scope": scope,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for kk, vv := range c {
		out[kk] = vv
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

// TestTokensRefused sends every kind of bad token to a data route: each is a 401 with a
// WWW-Authenticate challenge and an OperationOutcome that says nothing of why.
func TestTokensRefused(t *testing.T) {
	s := newAuthServer(t)
	good := goodClaims("system/*.*")
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pubDER, _ := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	valid := sign(t, jwt.SigningMethodES256, s.key, s.kid, good)
	parts := strings.Split(valid, ".")
	forgedPayload, _ := json.Marshal(with(good, "sub", "someone-else"))
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forgedPayload) + "." + parts[2]
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, s.kid, good)
	hs := sign(t, jwt.SigningMethodHS256, pubPEM, s.kid, good)
	cases := []struct{ name, header string }{
		{"no header", ""},
		{"empty bearer", "Bearer "},
		{"basic auth", "Basic dXNlcjpwYXNz"},
		{"garbage", "Bearer not.a.token"},
		{"expired", "Bearer " + s.mint(auth.TokenOptions{Scope: "system/*.*", TTL: -time.Hour})},
		{"not yet valid", "Bearer " + sign(t, jwt.SigningMethodES256, s.key, s.kid, with(good, "nbf", time.Now().Add(time.Hour).Unix()))},
		{"issued in the future", "Bearer " + sign(t, jwt.SigningMethodES256, s.key, s.kid, with(good, "iat", time.Now().Add(time.Hour).Unix()))},
		{"no expiry", "Bearer " + sign(t, jwt.SigningMethodES256, s.key, s.kid, with(good, "exp", nil))},
		{"wrong issuer", "Bearer " + sign(t, jwt.SigningMethodES256, s.key, s.kid, with(good, "iss", "https://evil.example"))},
		{"wrong audience", "Bearer " + sign(t, jwt.SigningMethodES256, s.key, s.kid, with(good, "aud", "https://other.example/fhir"))},
		{"bad signature", "Bearer " + sign(t, jwt.SigningMethodES256, other, s.kid, good)},
		{"alg none", "Bearer " + none},
		{"HS256 with the public key", "Bearer " + hs},
		{"unknown kid", "Bearer " + sign(t, jwt.SigningMethodES256, s.key, "no-such-key", good)},
		{"forged payload", "Bearer " + forged},
		{"oversized", "Bearer " + sign(t, jwt.SigningMethodES256, s.key, s.kid, with(good, "pad", strings.Repeat("x", 10000)))},
		{"exp as a string", "Bearer " + sign(t, jwt.SigningMethodES256, s.key, s.kid, with(good, "exp", fmt.Sprint(time.Now().Add(time.Hour).Unix())))},
		{"nbf as a string", "Bearer " + sign(t, jwt.SigningMethodES256, s.key, s.kid, with(good, "nbf", fmt.Sprint(time.Now().Unix())))},
		{"iat as a string", "Bearer " + sign(t, jwt.SigningMethodES256, s.key, s.kid, with(good, "iat", fmt.Sprint(time.Now().Unix())))},
		{"exp as a boolean", "Bearer " + sign(t, jwt.SigningMethodES256, s.key, s.kid, with(good, "exp", true))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.header != "" {
				hdr = []string{"Authorization", tc.header}
			}
			r := s.do("GET", "/fhir/QuestionnaireResponse", nil, hdr...)
			outcome(t, r, http.StatusUnauthorized, "")
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
			}
			for _, leak := range []string{"kid", "signature", "issuer", "audience", "alg", "nbf", "not valid yet"} {
				if strings.Contains(strings.ToLower(string(r.body)), leak) {
					t.Errorf("the refusal tells the client why (%q): %s", leak, r.body)
				}
			}
		})
	}
	t.Run("the valid token is accepted", func(t *testing.T) {
		if r := s.do("GET", "/fhir/QuestionnaireResponse", nil, "Authorization", "Bearer "+valid); r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("metadata and discovery need no token", func(t *testing.T) {
		for _, p := range []string{"/fhir/metadata", "/.well-known/smart-configuration", "/fhir/.well-known/smart-configuration", "/.well-known/jwks.json", "/healthz"} {
			if r := s.do("GET", p, nil); r.status != http.StatusOK {
				t.Errorf("GET %s: %d %s", p, r.status, r.body)
			}
		}
	})
}

// patientFixture is data of two patients, anna and bo.
type patientFixture struct {
	questionnaire, qrAnna, qrBo, cpAnna, cpBo string
}

func seedPatients(t *testing.T, s *authServer, admin string) patientFixture {
	t.Helper()
	h := []string{"Authorization", "Bearer " + admin}
	create := func(typ, body string) string {
		r := s.do("POST", "/fhir/"+typ, []byte(body), h...)
		if r.status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", typ, r.status, r.body)
		}
		return r.json(t)["id"].(string)
	}
	var f patientFixture
	f.questionnaire = create("Questionnaire", `{"resourceType":"Questionnaire","status":"active","url":"http://example.org/Questionnaire/lup","version":"1"}`)
	f.qrAnna = create("QuestionnaireResponse", `{"resourceType":"QuestionnaireResponse","status":"completed","questionnaire":"http://example.org/Questionnaire/lup|1","identifier":{"system":"urn:t","value":"qa"},"subject":{"reference":"Patient/anna"}}`)
	f.qrBo = create("QuestionnaireResponse", `{"resourceType":"QuestionnaireResponse","status":"completed","questionnaire":"http://example.org/Questionnaire/lup|1","identifier":{"system":"urn:t","value":"qb"},"subject":{"reference":"Patient/bo"}}`)
	f.cpAnna = create("CarePlan", `{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/anna"}}`)
	f.cpBo = create("CarePlan", `{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/bo"}}`)
	return f
}

func subjectQR(patient string) string {
	return `{"resourceType":"QuestionnaireResponse","status":"completed","subject":{"reference":"Patient/` + patient + `"}}`
}

// TestPatientCompartmentHasNoSideChannel runs every interaction and side channel with
// anna's patient token: she sees and changes only her own data, bo's reads as not found,
// and no response body carries anything of bo's.
func TestPatientCompartmentHasNoSideChannel(t *testing.T) {
	s := newAuthServer(t)
	admin := s.mint(auth.TokenOptions{Scope: "system/*.*"})
	f := seedPatients(t, s, admin)
	anna := s.mint(auth.TokenOptions{Scope: "patient/*.cruds", Patient: "anna"})
	annaV1 := s.mint(auth.TokenOptions{Scope: "patient/*.read patient/*.write", Patient: "anna"})
	boToken := s.mint(auth.TokenOptions{Scope: "patient/*.rs", Patient: "bo"})

	// bo's next link, to try with anna's token.
	boPage := s.do("GET", "/fhir/QuestionnaireResponse?_count=1", nil, "Authorization", "Bearer "+admin).json(t)
	var boNext string
	for _, l := range boPage["link"].([]any) {
		if l.(map[string]any)["relation"] == "next" {
			boNext = l.(map[string]any)["url"].(string)
		}
	}
	if boNext == "" {
		t.Fatal("no next link")
	}

	// What of bo's may never appear: his resources' ids in an answer that is not an error
	// (a 404 may repeat the id the client asked for), and any reference to him.
	boStuff := []string{`"id":"` + f.qrBo, `"id":"` + f.cpBo, "Patient/bo"}
	cases := []struct {
		name   string
		token  string
		method string
		path   string
		body   string
		header []string
		status int
		want   []string // in the body
	}{
		{"read own response", anna, "GET", "/fhir/QuestionnaireResponse/" + f.qrAnna, "", nil, 200, []string{f.qrAnna}},
		{"read own response, v1 scopes", annaV1, "GET", "/fhir/QuestionnaireResponse/" + f.qrAnna, "", nil, 200, []string{f.qrAnna}},
		{"read another's response", anna, "GET", "/fhir/QuestionnaireResponse/" + f.qrBo, "", nil, 404, nil},
		{"read another's care plan", anna, "GET", "/fhir/CarePlan/" + f.cpBo, "", nil, 404, nil},
		{"vread another's", anna, "GET", "/fhir/QuestionnaireResponse/" + f.qrBo + "/_history/1", "", nil, 404, nil},
		{"history of another's", anna, "GET", "/fhir/QuestionnaireResponse/" + f.qrBo + "/_history", "", nil, 404, nil},
		{"type history", anna, "GET", "/fhir/QuestionnaireResponse/_history", "", nil, 200, []string{f.qrAnna}},
		{"search all", anna, "GET", "/fhir/QuestionnaireResponse", "", nil, 200, []string{f.qrAnna}},
		{"search for another", anna, "GET", "/fhir/QuestionnaireResponse?subject=Patient/bo", "", nil, 200, nil},
		{"search by another's identifier", anna, "GET", "/fhir/QuestionnaireResponse?identifier=urn:t|qb", "", nil, 200, nil},
		{"search by POST", anna, "POST", "/fhir/CarePlan/_search", "subject=Patient/bo", []string{"Content-Type", "application/x-www-form-urlencoded"}, 200, nil},
		{"include the questionnaire", anna, "GET", "/fhir/QuestionnaireResponse?_include=QuestionnaireResponse:questionnaire", "", nil, 200, []string{f.qrAnna, f.questionnaire}},
		{"revinclude responses", anna, "GET", "/fhir/Questionnaire?_revinclude=QuestionnaireResponse:questionnaire", "", nil, 200, []string{f.questionnaire, f.qrAnna}},
		{"revinclude everything", anna, "GET", "/fhir/Questionnaire?_revinclude=*", "", nil, 200, []string{f.questionnaire}},
		{"revinclude the audit trail", anna, "GET", "/fhir/QuestionnaireResponse?_revinclude=AuditEvent:entity", "", nil, 200, []string{f.qrAnna}},
		{"another's next link", anna, "GET", boNext, "", nil, 400, nil},
		{"read a questionnaire", anna, "GET", "/fhir/Questionnaire/" + f.questionnaire, "", nil, 200, []string{f.questionnaire}},
		{"history of a questionnaire", anna, "GET", "/fhir/Questionnaire/" + f.questionnaire + "/_history", "", nil, 200, []string{f.questionnaire}},
		{"history of questionnaires", anna, "GET", "/fhir/Questionnaire/_history", "", nil, 200, []string{f.questionnaire}},
		{"vread a questionnaire", anna, "GET", "/fhir/Questionnaire/" + f.questionnaire + "/_history/1", "", nil, 200, []string{f.questionnaire}},
		{"create own response", anna, "POST", "/fhir/QuestionnaireResponse", subjectQR("anna"), nil, 201, []string{"Patient/anna"}},
		{"create for another", anna, "POST", "/fhir/QuestionnaireResponse", subjectQR("bo"), nil, 403, nil},
		{"create without a subject", anna, "POST", "/fhir/QuestionnaireResponse", `{"resourceType":"QuestionnaireResponse","status":"completed"}`, nil, 403, nil},
		{"move own to another", anna, "PUT", "/fhir/QuestionnaireResponse/" + f.qrAnna,
			`{"resourceType":"QuestionnaireResponse","id":"` + f.qrAnna + `","status":"completed","subject":{"reference":"Patient/bo"}}`, nil, 403, nil},
		{"update another's", anna, "PUT", "/fhir/QuestionnaireResponse/" + f.qrBo,
			`{"resourceType":"QuestionnaireResponse","id":"` + f.qrBo + `","status":"completed","subject":{"reference":"Patient/anna"}}`, nil, 404, nil},
		{"delete another's", anna, "DELETE", "/fhir/QuestionnaireResponse/" + f.qrBo, "", nil, 404, nil},
		{"conditional create matching another's", anna, "POST", "/fhir/QuestionnaireResponse",
			`{"resourceType":"QuestionnaireResponse","status":"completed","identifier":{"system":"urn:t","value":"qb"},"subject":{"reference":"Patient/anna"}}`,
			[]string{"If-None-Exist", "identifier=urn:t|qb"}, 201, []string{"Patient/anna"}},
		{"conditional update matching another's", anna, "PUT", "/fhir/CarePlan?subject=Patient/bo",
			`{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/anna"}}`, nil, 201, []string{"Patient/anna"}},
		{"conditional delete matching another's", anna, "DELETE", "/fhir/QuestionnaireResponse?identifier=urn:t|qb", "", nil, 204, nil},
		{"write a questionnaire", anna, "POST", "/fhir/Questionnaire", `{"resourceType":"Questionnaire","status":"draft"}`, nil, 403, nil},
		{"search the audit trail", anna, "GET", "/fhir/AuditEvent", "", nil, 403, nil},
		{"read scopes cannot write", boToken, "POST", "/fhir/QuestionnaireResponse", subjectQR("bo"), nil, 403, nil},
		{"patient scopes without a patient", s.mint(auth.TokenOptions{Scope: "patient/*.rs"}), "GET", "/fhir/QuestionnaireResponse", "", nil, 403, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := append([]string{"Authorization", "Bearer " + tc.token}, tc.header...)
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			r := s.do(tc.method, tc.path, body, hdr...)
			if r.status != tc.status {
				t.Fatalf("%s %s: status %d, want %d: %s", tc.method, tc.path, r.status, tc.status, r.body)
			}
			if tc.token == anna && r.status < 400 {
				for _, leak := range boStuff {
					if strings.Contains(string(r.body), leak) {
						t.Errorf("the answer shows bo's data (%s): %s", leak, r.body)
					}
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(string(r.body), w) {
					t.Errorf("the answer lacks %s: %s", w, r.body)
				}
			}
		})
	}
	// bo's data is untouched by everything anna tried.
	for _, p := range []string{"/fhir/QuestionnaireResponse/" + f.qrBo, "/fhir/CarePlan/" + f.cpBo} {
		r := s.do("GET", p, nil, "Authorization", "Bearer "+admin)
		if r.status != 200 || !strings.Contains(string(r.body), `"versionId":"1"`) {
			t.Errorf("%s after anna's attempts: %d %s", p, r.status, r.body)
		}
	}
}

// TestScopesDecideInteractions checks user and system scopes: a practitioner with read
// scopes reads every patient's data but writes nothing; system scopes do everything the
// API offers, and the audit trail is never written through the API.
func TestScopesDecideInteractions(t *testing.T) {
	s := newAuthServer(t)
	admin := s.mint(auth.TokenOptions{Scope: "system/*.*"})
	f := seedPatients(t, s, admin)
	practitioner := s.mint(auth.TokenOptions{Scope: "openid fhirUser user/*.rs", FHIRUser: "Practitioner/p1"})
	carePlansOnly := s.mint(auth.TokenOptions{Scope: "user/CarePlan.rs"})
	cases := []struct {
		name, token, method, path, body string
		status                          int
	}{
		{"practitioner reads anna's", practitioner, "GET", "/fhir/QuestionnaireResponse/" + f.qrAnna, "", 200},
		{"practitioner reads bo's", practitioner, "GET", "/fhir/QuestionnaireResponse/" + f.qrBo, "", 200},
		{"practitioner searches", practitioner, "GET", "/fhir/CarePlan", "", 200},
		{"practitioner cannot create", practitioner, "POST", "/fhir/QuestionnaireResponse", subjectQR("anna"), 403},
		{"practitioner cannot delete", practitioner, "DELETE", "/fhir/CarePlan/" + f.cpBo, "", 403},
		{"one type only", carePlansOnly, "GET", "/fhir/QuestionnaireResponse", "", 403},
		{"one type allowed", carePlansOnly, "GET", "/fhir/CarePlan", "", 200},
		{"system writes", admin, "PUT", "/fhir/CarePlan/" + f.cpBo, `{"resourceType":"CarePlan","id":"` + f.cpBo + `","status":"completed","intent":"plan","subject":{"reference":"Patient/bo"}}`, 200},
		{"audit trail cannot be written", admin, "POST", "/fhir/AuditEvent", `{"resourceType":"AuditEvent"}`, 405},
		{"audit trail cannot be deleted", admin, "DELETE", "/fhir/AuditEvent/x", "", 405},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			r := s.do(tc.method, tc.path, body, "Authorization", "Bearer "+tc.token)
			if r.status != tc.status {
				t.Fatalf("%s %s: %d, want %d: %s", tc.method, tc.path, r.status, tc.status, r.body)
			}
			if tc.status >= 400 {
				outcome(t, r, tc.status, "")
			}
		})
	}
}

// TestAuditTrail checks that reads, searches, writes and refusals are recorded as
// AuditEvents, which a system token can search by entity, agent, outcome and date, and no
// patient can.
func TestAuditTrail(t *testing.T) {
	s := newAuthServer(t)
	admin := s.mint(auth.TokenOptions{Scope: "system/*.*", Subject: "admin-1"})
	f := seedPatients(t, s, admin)
	anna := s.mint(auth.TokenOptions{Scope: "patient/*.rs", Patient: "anna", Subject: "anna-app"})
	s.do("GET", "/fhir/QuestionnaireResponse/"+f.qrAnna, nil, "Authorization", "Bearer "+anna)
	s.do("GET", "/fhir/QuestionnaireResponse/"+f.qrBo, nil, "Authorization", "Bearer "+anna) // 404
	s.do("GET", "/fhir/QuestionnaireResponse?status=completed", nil, "Authorization", "Bearer "+anna)
	s.do("POST", "/fhir/QuestionnaireResponse", []byte(subjectQR("anna")), "Authorization", "Bearer "+anna) // 403: read only
	s.do("GET", "/fhir/QuestionnaireResponse", nil)                                                         // 401
	if err := s.audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC().Format("2006-01-02")
	cases := []struct {
		name, query string
		min         int
		want        []string
	}{
		{"by entity", "entity=QuestionnaireResponse/" + f.qrAnna, 2, []string{`"read"`, "anna-app"}},
		{"by agent", "agent:identifier=anna-app", 4, nil},
		{"refusals", "outcome=4", 3, []string{"anna-app"}},
		{"by patient", "patient=anna", 2, nil},
		{"by date", "date=" + today, 9, nil},
		{"search recorded with its query", "subtype=search-type", 1, []string{"query"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("GET", "/fhir/AuditEvent?_count=100&"+tc.query, nil, "Authorization", "Bearer "+admin)
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			entries, _ := r.json(t)["entry"].([]any)
			if len(entries) < tc.min {
				t.Errorf("%d AuditEvents, want at least %d: %s", len(entries), tc.min, r.body)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(r.body), w) {
					t.Errorf("lacks %s: %s", w, r.body)
				}
			}
		})
	}
	if r := s.do("GET", "/fhir/AuditEvent", nil, "Authorization", "Bearer "+anna); r.status != 403 {
		t.Errorf("a patient searched the audit trail: %d", r.status)
	}
}

// TestAuthorizationCornerCases tries side channels through mixed scopes, repeated headers,
// preconditions, version numbers and moved resources: each must fail.
func TestAuthorizationCornerCases(t *testing.T) {
	s := newAuthServer(t)
	admin := s.mint(auth.TokenOptions{Scope: "system/*.*"})
	f := seedPatients(t, s, admin)
	h := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	// Staff data: bo's response based on bo's care plan; a response of anna's moved to bo.
	based := s.do("POST", "/fhir/QuestionnaireResponse", []byte(`{"resourceType":"QuestionnaireResponse","status":"completed","basedOn":[{"reference":"CarePlan/`+f.cpBo+`"}],"subject":{"reference":"Patient/bo"}}`), h(admin)...)
	if based.status != 201 {
		t.Fatalf("%d %s", based.status, based.body)
	}
	moved := s.do("POST", "/fhir/QuestionnaireResponse", []byte(subjectQR("anna")), h(admin)...).json(t)["id"].(string)
	if r := s.do("PUT", "/fhir/QuestionnaireResponse/"+moved, []byte(`{"resourceType":"QuestionnaireResponse","id":"`+moved+`","status":"completed","subject":{"reference":"Patient/bo"}}`), h(admin)...); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	// bo's response is at version 2 after this, to probe If-Match with.
	if r := s.do("PUT", "/fhir/QuestionnaireResponse/"+f.qrBo, []byte(`{"resourceType":"QuestionnaireResponse","id":"`+f.qrBo+`","status":"amended","subject":{"reference":"Patient/bo"}}`), h(admin)...); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	anna := s.mint(auth.TokenOptions{Scope: "patient/*.cruds", Patient: "anna"})
	createOnly := s.mint(auth.TokenOptions{Scope: "user/QuestionnaireResponse.c"})
	mixedRead := s.mint(auth.TokenOptions{Scope: "user/QuestionnaireResponse.rs patient/CarePlan.rs", Patient: "anna"})
	mixedRead2 := s.mint(auth.TokenOptions{Scope: "patient/QuestionnaireResponse.rs user/CarePlan.rs", Patient: "anna"})
	mixedWrite := s.mint(auth.TokenOptions{Scope: "user/QuestionnaireResponse.us patient/QuestionnaireResponse.c", Patient: "anna"})

	cases := []struct {
		name, token, method, path, body string
		header                          []string
		status                          int
		never                           []string // must not be in the body
	}{
		{"repeated If-None-Exist is still a conditional create", createOnly, "POST", "/fhir/QuestionnaireResponse", subjectQR("x"),
			[]string{"If-None-Exist", "", "If-None-Exist", "identifier=urn:t|qb"}, 403, []string{f.qrBo}},
		{"include through a type only patient scopes allow", mixedRead, "GET", "/fhir/QuestionnaireResponse?_include=QuestionnaireResponse:based-on", "", nil, 200,
			[]string{`"id":"` + f.cpBo}},
		{"revinclude of a type only patient scopes allow", mixedRead2, "GET", "/fhir/CarePlan?_revinclude=QuestionnaireResponse:based-on", "", nil, 200,
			[]string{`"subject":{"reference":"Patient/bo"},"basedOn"`, `"basedOn":[{"reference":"CarePlan/` + f.cpBo + `"}],"subject":{"reference":"Patient/bo"}`}},
		{"update as create for another patient with patient create scope", mixedWrite, "PUT", "/fhir/QuestionnaireResponse/newbo1",
			`{"resourceType":"QuestionnaireResponse","id":"newbo1","status":"completed","subject":{"reference":"Patient/bo"}}`, nil, 403, nil},
		{"conditional update creating for another patient", mixedWrite, "PUT", "/fhir/QuestionnaireResponse?identifier=urn:z|1",
			`{"resourceType":"QuestionnaireResponse","status":"completed","subject":{"reference":"Patient/bo"}}`, nil, 403, nil},
		{"If-Match on another's resource", anna, "DELETE", "/fhir/QuestionnaireResponse/" + f.qrBo, "", []string{"If-Match", `W/"1"`}, 404, []string{"current version"}},
		{"If-Match update of another's resource", anna, "PUT", "/fhir/QuestionnaireResponse/" + f.qrBo,
			`{"resourceType":"QuestionnaireResponse","id":"` + f.qrBo + `","status":"completed","subject":{"reference":"Patient/anna"}}`, []string{"If-Match", `W/"1"`}, 404, []string{"current version"}},
		{"vread beyond the newest of another's", anna, "GET", "/fhir/QuestionnaireResponse/" + f.qrBo + "/_history/99", "", nil, 404, []string{"newest"}},
		{"the old version of a resource moved away", anna, "GET", "/fhir/QuestionnaireResponse/" + moved + "/_history/1", "", nil, 404, nil},
		{"type history after the move", anna, "GET", "/fhir/QuestionnaireResponse/_history", "", nil, 200, []string{`"id":"` + moved}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			req, err := http.NewRequest(tc.method, s.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if body != nil {
				req, _ = http.NewRequest(tc.method, s.URL+tc.path, strings.NewReader(tc.body))
				req.Header.Set("Content-Type", "application/fhir+json")
			}
			req.Header.Set("Authorization", "Bearer "+tc.token)
			for i := 0; i+1 < len(tc.header); i += 2 {
				req.Header.Add(tc.header[i], tc.header[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var buf strings.Builder
			_, _ = io.Copy(&buf, resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s: %d, want %d: %s", tc.method, tc.path, resp.StatusCode, tc.status, buf.String())
			}
			for _, n := range tc.never {
				if strings.Contains(buf.String(), n) {
					t.Errorf("the answer shows %q: %s", n, buf.String())
				}
			}
		})
	}
}

// TestCanonicalVersionsAndAbsoluteReferences checks includes of a canonical that names a
// version, and references written as absolute URLs of this server.
func TestCanonicalVersionsAndAbsoluteReferences(t *testing.T) {
	s := newTestServer(t)
	for _, v := range []string{"1", "2"} {
		s.mustCreate("Questionnaire", `{"resourceType":"Questionnaire","status":"active","url":"http://example.org/Q/a","version":"`+v+`"}`)
	}
	pinned, _ := s.mustCreate("QuestionnaireResponse", `{"resourceType":"QuestionnaireResponse","status":"completed","questionnaire":"http://example.org/Q/a|1"}`)
	loose, _ := s.mustCreate("QuestionnaireResponse", `{"resourceType":"QuestionnaireResponse","status":"completed","questionnaire":"http://example.org/Q/a"}`)
	absolute, _ := s.mustCreate("QuestionnaireResponse", `{"resourceType":"QuestionnaireResponse","status":"completed","subject":{"reference":"`+s.base+`/Patient/zed/_history/3"}}`)
	cases := []struct {
		name, query string
		want, never []string
	}{
		{"include the version named", "QuestionnaireResponse?_id=" + pinned + "&_include=QuestionnaireResponse:questionnaire", []string{`"version":"1"`}, []string{`"version":"2"`}},
		{"include the newest version", "QuestionnaireResponse?_id=" + loose + "&_include=QuestionnaireResponse:questionnaire", []string{`"version":"2"`}, []string{`"version":"1"`}},
		{"revinclude from another version", "Questionnaire?version=2&_revinclude=QuestionnaireResponse:questionnaire", []string{loose}, []string{pinned}},
		{"revinclude from the version named", "Questionnaire?version=1&_revinclude=QuestionnaireResponse:questionnaire", []string{pinned, loose}, nil},
		{"relative search finds an absolute reference", "QuestionnaireResponse?subject=Patient/zed", []string{absolute}, nil},
		{"absolute search with a version", "QuestionnaireResponse?subject=" + url.QueryEscape(s.base+"/Patient/zed/_history/3"), []string{absolute}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("GET", "/fhir/"+tc.query, nil)
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(r.body), w) {
					t.Errorf("lacks %s: %s", w, r.body)
				}
			}
			for _, n := range tc.never {
				if strings.Contains(string(r.body), n) {
					t.Errorf("shows %s: %s", n, r.body)
				}
			}
		})
	}
}
