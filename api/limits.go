package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// The cost of one request is bounded at the edge, so that no client, and no number of
// clients, can take the server from the others: a rate limit per caller (429), a cap on the
// requests served at once and on the large bodies parsed at once (503 after a short wait),
// and a deadline on every search (503). The body's own size and the number of JSON values in
// it are bounded where it is read and parsed (limitBody, fhir.ParseBody).

// Defaults of the limits that Options leaves zero.
const (
	// defaultInFlightWait is how long a request waits for a turn when MaxInFlight are
	// being served.
	defaultInFlightWait = time.Second
	// defaultLargeBodyBytes is the size above which a body counts as large.
	defaultLargeBodyBytes = 1 << 20
	// defaultLargeBodyWait is how long a large body waits for its turn to be read.
	defaultLargeBodyWait = 2 * time.Second
	// searchCost is what a search or a type history counts against the rate limit: they
	// read through collections where a read or a write reaches one document.
	searchCost = 10
)

// limits holds the state of the per-request bounds.
type limits struct {
	inFlight chan struct{}
	// scansInFlight holds the turns of searches and type histories, which read through
	// collections: at most a quarter of inFlight, so that reads and writes always find room.
	scansInFlight chan struct{}
	inFlightWait  time.Duration
	largeBodies   chan struct{}
	largeBytes    int64
	largeWait     time.Duration
	callers       *callerLimits
}

func newLimits(o Options) *limits {
	l := &limits{inFlightWait: o.InFlightWait, largeBytes: o.LargeBodyBytes, largeWait: o.LargeBodyWait}
	if l.largeWait <= 0 {
		l.largeWait = defaultLargeBodyWait
	}
	if o.MaxInFlight > 0 {
		l.inFlight = make(chan struct{}, o.MaxInFlight)
		l.scansInFlight = make(chan struct{}, max(1, o.MaxInFlight/4))
	}
	if l.inFlightWait <= 0 {
		l.inFlightWait = defaultInFlightWait
	}
	if o.MaxLargeBodies > 0 {
		l.largeBodies = make(chan struct{}, o.MaxLargeBodies)
	}
	if l.largeBytes <= 0 {
		l.largeBytes = defaultLargeBodyBytes
	}
	if o.RateLimit > 0 {
		l.callers = &callerLimits{limit: rate.Limit(o.RateLimit), burst: max(1, o.RateBurst), byKey: map[string]*callerLimit{}}
	}
	return l
}

// admit runs after authentication on every /fhir request: the caller's rate limit, then a
// turn among the requests served at once; a search or type history first takes one of the
// turns of such requests, a quarter of all, so that however many searches arrive, reads and
// writes are served beside them.
func (s *Server) admit(c *gin.Context) {
	cost := requestCost(s.endpointOf(c))
	if err := s.limits.callers.allow(s.callerKey(c), cost); err != nil {
		writeError(c, err)
		c.Abort()
		return
	}
	if cost == searchCost {
		release, err := acquire(c.Request.Context(), s.limits.scansInFlight, s.limits.inFlightWait, func() error {
			return fhir.Unavailable(nil, time.Second,
				"The server is running as many searches as it takes at once (%d). Try again shortly.", cap(s.limits.scansInFlight))
		})
		if err != nil {
			writeError(c, err)
			c.Abort()
			return
		}
		defer release()
	}
	release, err := acquire(c.Request.Context(), s.limits.inFlight, s.limits.inFlightWait, func() error {
		return fhir.Unavailable(nil, time.Second,
			"The server is serving as many requests as it takes at once (%d). Try again shortly.", cap(s.limits.inFlight))
	})
	if err != nil {
		writeError(c, err)
		c.Abort()
		return
	}
	defer release()
	c.Next()
}

// requestCost is what a request counts against its caller's rate limit.
func requestCost(ep endpoint) int {
	switch ep.interaction {
	case fhir.InteractionSearchType, fhir.InteractionHistoryType:
		return searchCost
	}
	if ep.name == "report" {
		return searchCost // a report reads through the responses as a search does
	}
	return 1
}

// callerKey names whose budget a request spends: the token's issuer, subject and client.
func (s *Server) callerKey(c *gin.Context) string {
	if p := principal(c); p != nil {
		return p.Issuer + "\x00" + p.Subject + "\x00" + p.ClientID
	}
	return "addr\x00" + c.RemoteIP()
}

// acquire takes a slot of sem, waiting up to wait; busy makes the error when none frees up.
// A nil sem bounds nothing.
func acquire(ctx context.Context, sem chan struct{}, wait time.Duration, busy func() error) (func(), error) {
	if sem == nil {
		return func() {}, nil
	}
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-t.C:
		return nil, busy()
	case <-ctx.Done():
		return nil, fhir.Unavailable(ctx.Err(), time.Second, "The request was cancelled while it waited for its turn.")
	}
}

// callerLimits are the token buckets of the callers seen lately.
type callerLimits struct {
	limit rate.Limit
	burst int

	mu    sync.Mutex
	byKey map[string]*callerLimit
	swept time.Time
}

type callerLimit struct {
	lim  *rate.Limiter
	seen time.Time
}

// callersKept is how many callers' buckets are kept before idle ones are forgotten.
const callersKept = 10000

// allow spends cost of key's budget, or returns a 429 error saying when to try again.
func (l *callerLimits) allow(key string, cost int) error {
	if l == nil {
		return nil
	}
	now := time.Now()
	l.mu.Lock()
	e := l.byKey[key]
	if e == nil {
		if len(l.byKey) >= callersKept && now.Sub(l.swept) > time.Second {
			// A bucket idle long enough to have refilled is the same as a new one.
			full := time.Duration(float64(l.burst) / float64(l.limit) * float64(time.Second))
			for k, v := range l.byKey {
				if now.Sub(v.seen) > full {
					delete(l.byKey, k)
				}
			}
			l.swept = now
		}
		e = &callerLimit{lim: rate.NewLimiter(l.limit, l.burst)}
		l.byKey[key] = e
	}
	e.seen = now
	l.mu.Unlock()
	r := e.lim.ReserveN(now, min(cost, l.burst))
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return fhir.TooManyRequests(d,
			"This access token has sent more requests than the server takes from one caller (%g a second, a search counting %d, bursts up to %d). Try again in %d s.",
			float64(l.limit), searchCost, l.burst, int(math.Ceil(d.Seconds())))
	}
	return nil
}

// readErrors turns a failure to read a request body into the client's error: a body cut
// short, a broken chunked encoding or a connection that dropped is a 400, never a 500. The
// body limit (*http.MaxBytesError, 413) and errors the wrapped readers chose are kept.
type readErrors struct {
	io.ReadCloser
}

func (r readErrors) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err == nil || err == io.EOF {
		return n, err
	}
	var maxErr *http.MaxBytesError
	var fe *fhir.Error
	if errors.As(err, &maxErr) || errors.As(err, &fe) {
		return n, err
	}
	return n, fhir.Errorf(fhir.KindInvalid, "The request body could not be read (%v): send it again, whole", err)
}

// largeBody makes a body over the large size wait for one of the slots of large bodies
// before more of it is read, and keeps the slot until the request is answered.
type largeBody struct {
	io.ReadCloser
	l       *limits
	ctx     context.Context
	read    int64
	release func()
	err     error
}

func (b *largeBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.release == nil {
		// Without a slot, read at most one byte past the large size: the body is large when
		// that byte comes, not when the reader's buffer would have room for it.
		if room := b.l.largeBytes - b.read + 1; int64(len(p)) > room {
			p = p[:room]
		}
	}
	n, err := b.ReadCloser.Read(p)
	b.read += int64(n)
	if b.release == nil && b.read > b.l.largeBytes {
		if err := b.take(); err != nil {
			return 0, err
		}
	}
	return n, err
}

// take waits for a large-body slot.
func (b *largeBody) take() error {
	release, err := acquire(b.ctx, b.l.largeBodies, b.l.largeWait, func() error {
		return fhir.Unavailable(nil, 2*time.Second,
			"The server is reading as many large request bodies (over %d bytes) as it takes at once (%d). Try again shortly.",
			b.l.largeBytes, cap(b.l.largeBodies))
	})
	if err != nil {
		b.err = err
		return err
	}
	b.release = release
	return nil
}

// done gives the slot back, if the body took one.
func (b *largeBody) done() {
	if b.release != nil {
		b.release()
		b.release = nil
	}
}

// withSearchDeadline bounds a search or history page, its includes and its count.
func (s *Server) withSearchDeadline(c *gin.Context) (context.Context, context.CancelFunc) {
	if s.opts.SearchTimeout <= 0 {
		return context.WithCancel(c.Request.Context())
	}
	return context.WithTimeoutCause(c.Request.Context(), s.opts.SearchTimeout,
		fmt.Errorf("the search took longer than %s", s.opts.SearchTimeout))
}
