package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

const (
	loggerKey    = "fhir.logger"
	requestIDKey = "fhir.requestID"
	// RequestIDHeader carries the request id in requests and responses.
	RequestIDHeader = "X-Request-Id"
)

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9\-_.:]{1,128}$`)

// requestContext gives every request an id (the client's X-Request-Id when it is sane),
// echoes it, attaches a logger carrying it and logs the request when it ends.
func requestContext(base *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(RequestIDHeader)
		if !requestIDPattern.MatchString(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Header(RequestIDHeader, id)
		c.Set(requestIDKey, id)
		log := base.With("request_id", id)
		c.Set(loggerKey, log)
		start := time.Now()
		c.Next()
		log.Info("request",
			"method", c.Request.Method,
			"path", c.Request.URL.Path,
			"status", c.Writer.Status(),
			"bytes", c.Writer.Size(),
			"duration_ms", float64(time.Since(start).Microseconds())/1000,
		)
	}
}

// recoverPanics turns a panic into a 500 OperationOutcome that shows no internals; the panic
// and its stack go to the log with the request id.
func recoverPanics(c *gin.Context) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			loggerFrom(c).Error("panic while serving request", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if !c.Writer.Written() {
				writeError(c, fhir.Wrap(fmt.Errorf("panic: %v", p), "serve request"))
			}
			c.Abort()
		}
	}()
	c.Next()
}

// limitBody caps request bodies, after decoding them from gzip where Content-Encoding says
// so (requestBody); reading past the cap fails with *http.MaxBytesError, which writeError
// turns into 413. A body that cannot be read (cut short, a broken chunk) is the client's
// error (400). A large body waits for one of the slots of large bodies before it is read
// past the large size, and keeps it while the request is served.
func (s *Server) limitBody(c *gin.Context) {
	limit := s.opts.MaxBodyBytes
	if c.Request.ContentLength > limit {
		writeError(c, fhir.Errorf(fhir.KindTooLarge, "The request body (%d bytes) is larger than the limit of %d bytes", c.Request.ContentLength, limit))
		c.Abort()
		return
	}
	if c.Request.Body == nil || c.Request.Body == http.NoBody {
		c.Next()
		return
	}
	body, err := requestBody(c.Request, c.Writer, limit)
	if err != nil {
		c.Set(formatKey, mediaFHIRJSON)
		writeError(c, err)
		c.Abort()
		return
	}
	if runOf(c) != nil {
		// An entry's body is part of its Bundle's, read in the Bundle's turn.
		c.Request.Body = readErrors{body}
		c.Next()
		return
	}
	lb := &largeBody{ReadCloser: readErrors{body}, l: s.limits, ctx: c.Request.Context()}
	defer lb.done()
	if c.Request.ContentLength > s.limits.largeBytes {
		if err := lb.take(); err != nil {
			c.Set(formatKey, mediaFHIRJSON)
			writeError(c, err)
			c.Abort()
			return
		}
	}
	c.Request.Body = lb
	c.Next()
}
