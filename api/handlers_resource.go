package api

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// read serves GET /fhir/{type}/{id}.
func (s *Server) read(c *gin.Context) error {
	r, err := s.svc.Read(c.Request.Context(), c.Param("type"), c.Param("id"))
	if err != nil {
		if r != nil && r.Deleted {
			setVersionHeaders(c, r)
		}
		return err
	}
	s.writeResource(c, http.StatusOK, r)
	return nil
}

// vread serves GET /fhir/{type}/{id}/_history/{vid}.
func (s *Server) vread(c *gin.Context) error {
	vid, err := strconv.ParseInt(c.Param("vid"), 10, 64)
	if err != nil || vid < 1 {
		return fhir.Errorf(fhir.KindNotFound, "%q is not a version id: versions are numbered 1, 2, 3…", c.Param("vid"))
	}
	r, err := s.svc.VRead(c.Request.Context(), c.Param("type"), c.Param("id"), vid)
	if err != nil {
		if r != nil && r.Deleted {
			setVersionHeaders(c, r)
		}
		return err
	}
	s.writeResource(c, http.StatusOK, r)
	return nil
}

// create serves POST /fhir/{type}.
func (s *Server) create(c *gin.Context) error {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		return err
	}
	res, err := s.svc.Create(c.Request.Context(), c.Param("type"), body)
	if err != nil {
		return err
	}
	s.writeWrite(c, res)
	return nil
}

// update serves PUT /fhir/{type}/{id}.
func (s *Server) update(c *gin.Context) error {
	ifMatch, err := parseIfMatch(c.GetHeader("If-Match"))
	if err != nil {
		return err
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		return err
	}
	res, err := s.svc.Update(c.Request.Context(), c.Param("type"), c.Param("id"), body, ifMatch)
	if err != nil {
		return err
	}
	s.writeWrite(c, res)
	return nil
}

// delete serves DELETE /fhir/{type}/{id}.
func (s *Server) delete(c *gin.Context) error {
	ifMatch, err := parseIfMatch(c.GetHeader("If-Match"))
	if err != nil {
		return err
	}
	r, err := s.svc.Delete(c.Request.Context(), c.Param("type"), c.Param("id"), ifMatch)
	if err != nil {
		return err
	}
	c.Header("ETag", r.ETag())
	if preferReturn(c) == "OperationOutcome" {
		writeValue(c, http.StatusOK, fhir.NewOperationOutcome(fhir.Issue{
			Severity: fhir.SeverityInformation, Code: fhir.IssueInformational,
			Diagnostics: "Deleted " + r.Type + "/" + r.ID + " (version " + strconv.FormatInt(r.VersionID, 10) + ")",
		}))
		return nil
	}
	c.Status(http.StatusNoContent)
	return nil
}

// writeWrite answers a successful create or update as the Prefer header asks.
func (s *Server) writeWrite(c *gin.Context, res *fhir.WriteResult) {
	r := res.Resource
	c.Header("Location", s.baseURL(c)+"/"+r.Type+"/"+r.ID+"/_history/"+strconv.FormatInt(r.VersionID, 10))
	switch preferReturn(c) {
	case "minimal":
		setVersionHeaders(c, r)
		c.Status(res.Status())
	case "OperationOutcome":
		setVersionHeaders(c, r)
		verb := "Updated"
		if res.Created {
			verb = "Created"
		}
		writeValue(c, res.Status(), fhir.NewOperationOutcome(fhir.Issue{
			Severity: fhir.SeverityInformation, Code: fhir.IssueInformational,
			Diagnostics: verb + " " + r.Type + "/" + r.ID + " (version " + strconv.FormatInt(r.VersionID, 10) + ")",
		}))
	default:
		s.writeResource(c, res.Status(), r)
	}
}

func (s *Server) writeResource(c *gin.Context, status int, r *fhir.Resource) {
	setVersionHeaders(c, r)
	writeJSON(c, status, r.Raw)
}

func setVersionHeaders(c *gin.Context, r *fhir.Resource) {
	c.Header("ETag", r.ETag())
	c.Header("Last-Modified", r.LastUpdated.UTC().Format(http.TimeFormat))
}

// preferReturn is the return preference of the Prefer header: minimal, representation
// (the default) or OperationOutcome.
func preferReturn(c *gin.Context) string {
	for _, h := range c.Request.Header.Values("Prefer") {
		for _, part := range strings.Split(h, ";") {
			for _, p := range strings.Split(part, ",") {
				k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(k, "return") {
					switch strings.Trim(v, `"`) {
					case "minimal":
						return "minimal"
					case "OperationOutcome":
						return "OperationOutcome"
					}
				}
			}
		}
	}
	return "representation"
}

// parseIfMatch reads an If-Match header: W/"3", "3" or 3. Empty gives nil.
func parseIfMatch(h string) (*int64, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return nil, nil
	}
	v := strings.TrimPrefix(h, "W/")
	v = strings.Trim(v, `"`)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return nil, fhir.Errorf(fhir.KindInvalid, `If-Match %q is not a version tag: send the ETag you received, e.g. W/"3"`, h)
	}
	return &n, nil
}
