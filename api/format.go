package api

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// Media types served.
const (
	mediaFHIRJSON = "application/fhir+json"
	mediaJSON     = "application/json"
)

// isJSONMedia reports whether a Content-Type of an answer is FHIR JSON or JSON ("" counts as
// JSON: every answer the server writes without one is).
func isJSONMedia(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == mediaFHIRJSON || mt == mediaJSON)
}

// formatKey holds the negotiated response media type in the gin context.
const formatKey = "fhir.format"

// negotiate picks the response media type from _format or Accept and rejects requests whose
// body is not JSON. It runs before every FHIR handler.
func negotiate(c *gin.Context) {
	var media string
	var err error
	if isReportPath(c.Request.URL.Path) {
		// A report also comes as CSV and HTML; its errors, and its JSON, are FHIR JSON
		// (plain JSON when that is what was asked for).
		var report string
		if report, err = reportMedia(c.Query("_format"), c.GetHeader("Accept")); err == nil {
			c.Set(reportMediaKey, report)
			media = mediaFHIRJSON
			if report == mediaJSON {
				media = mediaJSON
			}
		}
	} else {
		media, err = responseMedia(c.Query("_format"), c.GetHeader("Accept"))
	}
	if err != nil {
		c.Set(formatKey, mediaFHIRJSON)
		writeError(c, err)
		c.Abort()
		return
	}
	c.Set(formatKey, media)
	if c.Request.Method == http.MethodPost || c.Request.Method == http.MethodPut || c.Request.Method == http.MethodPatch {
		ct := c.GetHeader("Content-Type")
		if c.Request.Method == http.MethodPatch && isJSONPatch(ct) {
			c.Next()
			return
		}
		if err := checkRequestMedia(ct, c.Request.URL.Path); err != nil {
			writeError(c, err)
			c.Abort()
			return
		}
	}
	c.Next()
}

// fhirVersion is the FHIR version of the media types served, the fhirVersion parameter of
// application/fhir+json: R4 (4.0.1) is 4.0.
const fhirVersion = "4.0"

// servesVersion reports whether a fhirVersion media type parameter names FHIR R4: absent,
// 4.0, or a 4.0.x release.
func servesVersion(v string) bool {
	return v == "" || v == fhirVersion || strings.HasPrefix(v, fhirVersion+".")
}

func responseMedia(format, accept string) (string, error) {
	if format != "" {
		// _format=application/fhir+json sent without escaping its + arrives as a space
		// ("application/fhir json"); HAPI reads it as JSON, and so does this server.
		mt, params, _ := strings.Cut(strings.TrimSpace(format), ";")
		mt = strings.ToLower(strings.Join(strings.Fields(mt), "+"))
		if _, p, err := mime.ParseMediaType("x/y;" + params); params != "" && err == nil && !servesVersion(p["fhirversion"]) {
			return "", fhir.Errorf(fhir.KindNotAcceptable, "_format=%s asks for FHIR version %s: this server speaks FHIR R4 (fhirVersion=%s)", format, p["fhirversion"], fhirVersion)
		}
		switch mt {
		case "json", mediaFHIRJSON, mediaJSON, "application/json+fhir":
			return mediaFHIRJSON, nil
		default:
			return "", fhir.Errorf(fhir.KindNotAcceptable, "_format=%s is not served: this server speaks JSON only (_format=json)", format)
		}
	}
	if strings.TrimSpace(accept) == "" {
		return mediaFHIRJSON, nil
	}
	best, otherVersion := "", ""
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if params["q"] == "0" {
			continue
		}
		if v := params["fhirversion"]; !servesVersion(v) {
			otherVersion = v
			continue
		}
		switch mt {
		case mediaFHIRJSON, "application/json+fhir", "application/*", "*/*":
			return mediaFHIRJSON, nil
		case mediaJSON:
			best = mediaJSON
		}
	}
	if best != "" {
		return best, nil
	}
	if otherVersion != "" {
		return "", fhir.Errorf(fhir.KindNotAcceptable, "Accept: %s asks for FHIR version %s: this server speaks FHIR R4 (fhirVersion=%s)", accept, otherVersion, fhirVersion)
	}
	return "", fhir.Errorf(fhir.KindNotAcceptable, "Accept: %s names no media type this server produces: use application/fhir+json or application/json", accept)
}

func checkRequestMedia(contentType, path string) error {
	if contentType == "" {
		return nil // curl and many clients omit it for JSON; the body is still checked
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err == nil && (mt == mediaFHIRJSON || mt == mediaJSON || mt == "application/json+fhir") {
		if !servesVersion(params["fhirversion"]) {
			return fhir.Errorf(fhir.KindUnsupportedMedia, "Content-Type %s is FHIR version %s: this server takes FHIR R4 (fhirVersion=%s)", contentType, params["fhirversion"], fhirVersion)
		}
		return nil
	}
	if err == nil && mt == "application/x-www-form-urlencoded" && strings.HasSuffix(path, "/_search") {
		return nil
	}
	return fhir.Errorf(fhir.KindUnsupportedMedia, "Content-Type %s is not accepted: send the resource as application/fhir+json", contentType)
}

// writeJSON writes a JSON body in the negotiated media type, with the FHIR version it is in,
// indented when _pretty=true, and the Subscription headers the caller may not read masked.
func writeJSON(c *gin.Context, status int, body []byte) {
	writeMaskedJSON(c, status, maskSecrets(c, body))
}

// writeMaskedJSON is writeJSON for a body whose Subscription headers were masked already:
// a batch or transaction answer, each of whose entries was answered by its own request.
func writeMaskedJSON(c *gin.Context, status int, body []byte) {
	media := c.GetString(formatKey)
	if media == "" {
		media = mediaFHIRJSON
	}
	if c.Query("_pretty") == "true" {
		var buf bytes.Buffer
		if err := json.Indent(&buf, body, "", "  "); err == nil {
			body = buf.Bytes()
		}
	}
	c.Data(status, media+"; fhirVersion="+fhirVersion, body)
}

// writeValue encodes v without HTML escaping and writes it.
func writeValue(c *gin.Context, status int, v any) {
	body, err := marshalJSON(v)
	if err != nil {
		writeError(c, fhir.Wrap(err, "encode response"))
		return
	}
	writeJSON(c, status, body)
}
