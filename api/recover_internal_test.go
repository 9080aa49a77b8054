package api

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestPanicBecomesOperationOutcomeWithoutInternals(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	engine.Use(requestContext(slog.New(slog.NewTextHandler(&logs, nil))), recoverPanics)
	engine.GET("/boom", func(*gin.Context) { panic("secret internal detail") })

	req := httptest.NewRequest("GET", "/boom", nil)
	req.Header.Set(RequestIDHeader, "req-42")
	rec := httptest.NewRecorder()
	engine.ServeHTTP(rec, req)

	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", rec.Code)
	}
	body := rec.Body.String()
	if !strings.Contains(body, `"resourceType":"OperationOutcome"`) || !strings.Contains(body, `"code":"exception"`) {
		t.Errorf("body is not an exception OperationOutcome: %s", body)
	}
	if strings.Contains(body, "secret") || strings.Contains(body, "goroutine") {
		t.Errorf("body leaks internals: %s", body)
	}
	if !strings.Contains(logs.String(), "secret internal detail") || !strings.Contains(logs.String(), "request_id=req-42") {
		t.Errorf("log lacks the panic or the request id: %s", logs.String())
	}
}
