package api

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// reportsPath is where the page for people who make reports is served.
const reportsPath = "/reports"

// reportsPage is the page at /reports: paste a token (kept in the tab's sessionStorage,
// never in a URL), pick a Questionnaire, a period, a stratifier and a language, and see the
// report page of $report, print it or download its CSV. It is one file with everything
// inline: no CDN, nothing else to fetch but the API.
//
//go:embed reportspage/index.html
var reportsPage []byte

// registerReportsPage serves /reports.
func (s *Server) registerReportsPage() {
	s.serveGET(s.engine, reportsPath, endpoint{name: "reports"}, s.checkHost, func(c *gin.Context) {
		c.Header("Cache-Control", "no-cache")
		c.Header("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data: blob:; frame-src 'self' about: blob:; base-uri 'none'; form-action 'none'")
		c.Header("Referrer-Policy", "no-referrer")
		c.Data(http.StatusOK, "text/html; charset=utf-8", reportsPage)
	})
}
