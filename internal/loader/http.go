package loader

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// maxAnswerBytes bounds how much of an answer the HTTP target reads.
const maxAnswerBytes = 64 << 20

// HTTPTarget writes to a running FHIR server over its REST API.
type HTTPTarget struct {
	base   string
	token  string
	client *http.Client
}

var _ Target = (*HTTPTarget)(nil)

// NewHTTPTarget returns a target for the FHIR base URL base (e.g. http://localhost:8080/fhir).
// A non-empty token is sent as "Authorization: Bearer <token>". client nil uses a client with
// a one-minute timeout per request.
func NewHTTPTarget(base, token string, client *http.Client) (*HTTPTarget, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an absolute http(s) URL of a FHIR base, such as http://localhost:8080/fhir", base)
	}
	if client == nil {
		client = &http.Client{Timeout: time.Minute}
	}
	return &HTTPTarget{base: strings.TrimRight(base, "/"), token: token, client: client}, nil
}

// Check reads the CapabilityStatement, so that a wrong URL is reported once, before loading.
func (t *HTTPTarget) Check(ctx context.Context) error {
	resp, body, err := t.do(ctx, http.MethodGet, t.base+"/metadata", nil, nil)
	if err != nil {
		return err
	}
	var cs struct {
		ResourceType string `json:"resourceType"`
		FHIRVersion  string `json:"fhirVersion"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &cs) != nil || cs.ResourceType != "CapabilityStatement" {
		return fmt.Errorf("%s/metadata answered HTTP %d without a CapabilityStatement: is %s the FHIR base URL (e.g. http://localhost:8080/fhir)?",
			t.base, resp.StatusCode, t.base)
	}
	if !strings.HasPrefix(cs.FHIRVersion, "4.0") {
		return fmt.Errorf("%s serves FHIR %s; the loader writes FHIR R4 (4.0.x)", t.base, cs.FHIRVersion)
	}
	return nil
}

// Current reads typ/id; 404 and 410 give nil.
func (t *HTTPTarget) Current(ctx context.Context, typ, id string) (*Stored, error) {
	resp, body, err := t.do(ctx, http.MethodGet, t.resourceURL(typ, id), nil, nil)
	if err != nil {
		return nil, err
	}
	return currentAnswer(typ, id, resp, body)
}

// currentAnswer reads the answer to GET typ/id: the resource with its version from the ETag
// (or meta.versionId), nil for 404 and 410.
func currentAnswer(typ, id string, resp *http.Response, body []byte) (*Stored, error) {
	switch resp.StatusCode {
	case http.StatusOK:
		vid, err := versionFromETag(resp.Header.Get("ETag"))
		if err != nil {
			var meta struct {
				Meta struct {
					VersionID string `json:"versionId"`
				} `json:"meta"`
			}
			_ = json.Unmarshal(body, &meta)
			if vid, err = strconv.ParseInt(meta.Meta.VersionID, 10, 64); err != nil {
				return nil, fmt.Errorf("GET %s/%s answered without a version (no ETag, no meta.versionId)", typ, id)
			}
		}
		return &Stored{Raw: body, Version: vid}, nil
	case http.StatusNotFound, http.StatusGone:
		return nil, nil
	}
	return nil, answerError(resp, body)
}

// Put sends PUT [base]/typ/id.
func (t *HTTPTarget) Put(ctx context.Context, typ, id string, body []byte, ifMatch int64) (bool, error) {
	h := http.Header{}
	h.Set("Content-Type", "application/fhir+json")
	h.Set("Prefer", "return=minimal")
	if ifMatch > 0 {
		h.Set("If-Match", `W/"`+strconv.FormatInt(ifMatch, 10)+`"`)
	}
	resp, answer, err := t.do(ctx, http.MethodPut, t.resourceURL(typ, id), body, h)
	if err != nil {
		return false, err
	}
	return putAnswer(resp, answer)
}

// putAnswer reads the answer to PUT typ/id: whether it created the resource.
func putAnswer(resp *http.Response, body []byte) (bool, error) {
	switch resp.StatusCode {
	case http.StatusCreated:
		return true, nil
	case http.StatusOK, http.StatusNoContent:
		return false, nil
	}
	return false, answerError(resp, body)
}

// Create sends POST [base]/typ with If-None-Exist: 201 created it, 200 found one match.
func (t *HTTPTarget) Create(ctx context.Context, typ string, criteria url.Values, body []byte) (*CreateResult, error) {
	h := http.Header{}
	h.Set("Content-Type", "application/fhir+json")
	h.Set("If-None-Exist", criteria.Encode())
	h.Set("Prefer", "return=representation") // a match comes back whole, to compare with the file
	resp, answer, err := t.do(ctx, http.MethodPost, t.base+"/"+url.PathEscape(typ), body, h)
	if err != nil {
		return nil, err
	}
	return createAnswer(typ, resp, answer)
}

// createAnswer reads the answer to POST typ with If-None-Exist: the id of the resource
// created (201) or, with its version from the ETag (or meta.versionId), the one that
// matched (200).
func createAnswer(typ string, resp *http.Response, body []byte) (*CreateResult, error) {
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return nil, answerError(resp, body)
	}
	var res struct {
		ID   string `json:"id"`
		Meta struct {
			VersionID string `json:"versionId"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(body, &res); err != nil || res.ID == "" {
		return nil, fmt.Errorf("POST %s with If-None-Exist answered HTTP %d without the resource", typ, resp.StatusCode)
	}
	out := &CreateResult{ID: res.ID}
	if resp.StatusCode == http.StatusOK {
		vid, err := versionFromETag(resp.Header.Get("ETag"))
		if err != nil {
			if vid, err = strconv.ParseInt(res.Meta.VersionID, 10, 64); err != nil {
				return nil, fmt.Errorf("POST %s with If-None-Exist answered without a version (no ETag, no meta.versionId)", typ)
			}
		}
		out.Existing = &Stored{Raw: body, Version: vid}
	}
	return out, nil
}

func (t *HTTPTarget) resourceURL(typ, id string) string {
	return t.base + "/" + resourcePath(typ, id)
}

// resourcePath is typ/id, escaped, relative to the FHIR base.
func resourcePath(typ, id string) string {
	return url.PathEscape(typ) + "/" + url.PathEscape(id)
}

// do sends one request and reads the whole answer. It fails only when no answer came.
func (t *HTTPTarget) do(ctx context.Context, method, u string, body []byte, h http.Header) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/fhir+json")
	if t.token != "" {
		req.Header.Set("Authorization", "Bearer "+t.token)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: reading the answer: %w", method, u, err)
	}
	return resp, answer, nil
}

// answerError turns an unsuccessful answer into a RejectedError with the issues of its
// OperationOutcome, except refused credentials, which stop the load.
func answerError(resp *http.Response, body []byte) error {
	var oo fhir.OperationOutcome
	if json.Unmarshal(body, &oo) != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
		text := strings.TrimSpace(string(body))
		if len(text) > 300 {
			text = text[:300] + "…"
		}
		if text == "" {
			text = http.StatusText(resp.StatusCode)
		}
		oo.Issue = []fhir.Issue{{Severity: fhir.SeverityError, Code: fhir.IssueException, Diagnostics: text}}
	}
	rej := &RejectedError{Status: resp.StatusCode, Issues: oo.Issue}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		// Every other request would be refused too: stop (%s, not %w, so this is no RejectedError).
		return fmt.Errorf("the server refused the credentials (check --token): %s", rej)
	}
	return rej
}

// versionFromETag reads W/"3" (or "3").
func versionFromETag(etag string) (int64, error) {
	v := strings.Trim(strings.TrimPrefix(strings.TrimSpace(etag), "W/"), `"`)
	return strconv.ParseInt(v, 10, 64)
}
