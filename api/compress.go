package api

import (
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/klauspost/compress/gzhttp"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// compressMinSize is the smallest response body compressed: below it the encoding's
// overhead outweighs what it saves.
const compressMinSize = 1024

// compressResponses wraps h so that responses of compressMinSize bytes or more are sent
// gzip-compressed to clients whose Accept-Encoding allows it (zstd to those that accept
// only zstd), with Vary: Accept-Encoding. Already compressed media types are sent as they
// are. A page of 200 QuestionnaireResponses shrinks about tenfold (README, Performance).
func compressResponses(h http.Handler) (http.Handler, error) {
	wrap, err := gzhttp.NewWrapper(gzhttp.MinSize(compressMinSize), gzhttp.CompressionLevel(gzip.DefaultCompression), gzhttp.PreferZstd(false))
	if err != nil {
		return nil, err
	}
	return wrap(h), nil
}

// requestBody is the body of a request as handlers read it: decoded from its
// Content-Encoding (gzip, or none), with limit applied to the decoded bytes, so that a
// small compressed body cannot expand past the limit (a 413, not a server out of memory).
// A coding the server does not read is a 415.
func requestBody(r *http.Request, w http.ResponseWriter, limit int64) (io.ReadCloser, error) {
	coding := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	switch coding {
	case "", "identity":
		return http.MaxBytesReader(w, r.Body, limit), nil
	case "gzip", "x-gzip":
		// The compressed bytes are capped too: an endless stream of empty blocks decodes to
		// nothing, and must not be read for ever.
		raw := http.MaxBytesReader(w, r.Body, limit)
		return http.MaxBytesReader(w, &gunzipBody{raw: raw}, limit), nil
	default:
		return nil, fhir.Errorf(fhir.KindUnsupportedMedia, "Content-Encoding %s is not accepted: send the body uncompressed or as gzip", coding)
	}
}

// gunzipBody decodes a gzip request body, lazily, reporting a body that is not gzip as the
// client's error (400) rather than the server's.
type gunzipBody struct {
	raw io.ReadCloser
	zr  *gzip.Reader
	err error
}

func (g *gunzipBody) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if g.zr == nil {
		zr, err := gzip.NewReader(g.raw)
		if err != nil {
			g.err = g.fail(err)
			return 0, g.err
		}
		g.zr = zr
	}
	n, err := g.zr.Read(p)
	if err != nil && err != io.EOF {
		err = g.fail(err)
		g.err = err
	}
	return n, err
}

// fail turns a decoding error into an invalid-request error; the body limit's own error and
// an empty body pass through.
func (g *gunzipBody) fail(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) || err == io.EOF {
		return err
	}
	return fhir.Errorf(fhir.KindInvalid, "The request body is not valid gzip, as its Content-Encoding says: %v", err)
}

func (g *gunzipBody) Close() error { return g.raw.Close() }
