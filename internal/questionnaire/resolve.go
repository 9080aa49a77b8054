package questionnaire

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// maxCheckers bounds the compiled Questionnaire versions a Resolver keeps.
const maxCheckers = 512

// Resolver finds the Questionnaire a canonical reference names among those stored, compiled.
// It caches both steps: the versions stored under each url (a search; on the embedded
// database one that reads every stored Questionnaire) and the compiled Checker of each stored
// version, keyed by id and versionId, which never changes. Invalidate, called for every
// Questionnaire written through this process, drops what the write makes stale; a TTL, when
// set, bounds how long the url lookup is trusted, for servers that share a MongoDB database
// with others.
type Resolver struct {
	searcher search.Searcher
	ttl      time.Duration
	now      func() time.Time

	mu       sync.Mutex
	byURL    map[string]*urlEntry
	checkers map[string]*Checker
	order    []string // checkers' keys, oldest first
	// gen counts invalidations: a lookup that began before one does not cache its answer.
	gen      uint64
	inflight map[string]*flight
}

// urlEntry is what the store held under one url when it was last asked.
type urlEntry struct {
	at       time.Time
	versions []*Checker
}

type flight struct {
	done  chan struct{}
	entry *urlEntry
	err   error
}

// NewResolver returns a Resolver that searches with searcher. ttl bounds how long the
// versions of a url are trusted without asking again; 0 trusts them until Invalidate,
// which is exact when this process is the database's only client (the embedded database).
func NewResolver(searcher search.Searcher, ttl time.Duration) *Resolver {
	return &Resolver{searcher: searcher, ttl: ttl, now: time.Now, byURL: map[string]*urlEntry{},
		checkers: map[string]*Checker{}, inflight: map[string]*flight{}}
}

// Resolution is the outcome of resolving a canonical reference.
type Resolution struct {
	// Checker is the Questionnaire found, nil when none or several match.
	Checker *Checker
	// Ambiguous lists the stored ids that match when more than one does.
	Ambiguous []string
	// Versions lists the versions stored under the url, when the one asked for is not.
	Versions []string
}

// Resolve finds the stored Questionnaire that canonical (url|version, or url alone for the
// highest version, as _include resolves it) names. In a transaction (a unit of work in ctx)
// the Questionnaires it has staged count as stored, and the stored versions it replaces or
// deletes do not: a response is resolved as it will be once the transaction is stored.
func (r *Resolver) Resolve(ctx context.Context, canonical string) (*Resolution, error) {
	u, version, _ := strings.Cut(canonical, "|")
	candidates, err := r.versionsAmong(ctx, u, fhir.Staged(ctx, "Questionnaire"))
	if err != nil {
		return nil, err
	}
	return match(candidates, version), nil
}

// versionsAmong returns the versions under url once the Questionnaires a transaction staged
// (none outside one) are stored: see withStaged.
func (r *Resolver) versionsAmong(ctx context.Context, url string, staged []*fhir.Resource) ([]*Checker, error) {
	entry, err := r.versions(ctx, url)
	if err != nil {
		return nil, err
	}
	if len(staged) == 0 {
		return entry.versions, nil
	}
	return withStaged(ctx, url, entry.versions, staged), nil
}

// withStaged returns the versions under url once staged is stored: the stored versions
// whose resources staged does not change, and the staged ones under url. Staged versions are
// compiled once for the unit of work of ctx (see stagedOf), and not cached beyond it: they
// may never be stored.
func withStaged(ctx context.Context, url string, stored []*Checker, staged []*fhir.Resource) []*Checker {
	changed := make(map[string]bool, len(staged))
	for _, res := range staged {
		changed[res.ID] = true
	}
	var out []*Checker
	for _, c := range stored {
		if !changed[c.ID] {
			out = append(out, c)
		}
	}
	for _, res := range staged {
		if res.Deleted {
			continue
		}
		q := stagedOf(ctx, res)
		if q.checker == nil || q.url != url {
			continue
		}
		out = append(out, q.checker())
	}
	return out
}

// stagedKey keys the stagedVersion of a staged Questionnaire in its unit of work's Memo.
type stagedKey struct{ res *fhir.Resource }

// stagedVersion is a Questionnaire a unit of work staged, decoded once for all the checks of
// the unit: its url, and checker, which compiles it on its first call (only a Questionnaire
// whose url a response names is compiled). checker is nil when it does not decode.
type stagedVersion struct {
	url     string
	checker func() *Checker
}

// stagedOf returns the stagedVersion of res, a Questionnaire staged by the unit of work of
// ctx, made once per unit.
func stagedOf(ctx context.Context, res *fhir.Resource) stagedVersion {
	return fhir.Memo(ctx, stagedKey{res}, func() stagedVersion {
		tree, err := decodeTree(res.Raw)
		if err != nil {
			return stagedVersion{} // the Service staged it after parsing it: not reached
		}
		return stagedVersion{url: str(tree, "url"), checker: sync.OnceValue(func() *Checker {
			c, _ := Compile(tree)
			c.ID, c.VersionID = res.ID, res.VersionID
			return c
		})}
	})
}

// match picks among the versions of one url the one version names (the highest when
// version is "").
func match(versions []*Checker, version string) *Resolution {
	res := &Resolution{}
	var matches []*Checker
	if version != "" {
		for _, c := range versions {
			if c.Version == version {
				matches = append(matches, c)
			}
		}
	} else {
		var best []*Checker
		for _, c := range versions {
			switch {
			case len(best) == 0:
				best = []*Checker{c}
			case fhir.CompareVersions(c.Version, best[0].Version) > 0:
				best = []*Checker{c}
			case fhir.CompareVersions(c.Version, best[0].Version) == 0:
				best = append(best, c)
			}
		}
		matches = best
	}
	switch len(matches) {
	case 0:
		for _, c := range versions {
			res.Versions = append(res.Versions, c.Version)
		}
	case 1:
		res.Checker = matches[0]
	default:
		for _, c := range matches {
			res.Ambiguous = append(res.Ambiguous, c.ID)
		}
	}
	return res
}

// versions returns the compiled versions stored under url, from the cache when it is fresh.
func (r *Resolver) versions(ctx context.Context, url string) (*urlEntry, error) {
	r.mu.Lock()
	if e, ok := r.byURL[url]; ok && (r.ttl <= 0 || r.now().Sub(e.at) < r.ttl) {
		r.mu.Unlock()
		return e, nil
	}
	if f, ok := r.inflight[url]; ok {
		r.mu.Unlock()
		select {
		case <-f.done:
			return f.entry, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	r.inflight[url] = f
	gen := r.gen
	r.mu.Unlock()

	f.entry, f.err = r.load(ctx, url)
	r.mu.Lock()
	delete(r.inflight, url)
	if f.err == nil && gen == r.gen {
		r.byURL[url] = f.entry
	}
	r.mu.Unlock()
	close(f.done)
	return f.entry, f.err
}

// load searches the Questionnaires stored under url and compiles those not compiled yet.
func (r *Resolver) load(ctx context.Context, url string) (*urlEntry, error) {
	found, err := FindByURL(ctx, r.searcher, url)
	if err != nil {
		return nil, err
	}
	e := &urlEntry{at: r.now()}
	for _, res := range found {
		c, err := r.compiled(res)
		if err != nil {
			return nil, err
		}
		if c.URL == url { // the search matches the url exactly; this guards against anything looser
			e.versions = append(e.versions, c)
		}
	}
	return e, nil
}

// compiled returns the Checker of a stored version, compiling it on first use.
func (r *Resolver) compiled(res *fhir.Resource) (*Checker, error) {
	key := res.ID + "/" + strconv.FormatInt(res.VersionID, 10)
	r.mu.Lock()
	c, ok := r.checkers[key]
	r.mu.Unlock()
	if ok {
		return c, nil
	}
	tree, err := decodeTree(res.Raw)
	if err != nil {
		return nil, fhir.Wrap(err, "decode Questionnaire/%s", res.ID)
	}
	c, _ = Compile(tree)
	c.ID, c.VersionID = res.ID, res.VersionID
	r.mu.Lock()
	if _, ok := r.checkers[key]; !ok {
		r.checkers[key] = c
		r.order = append(r.order, key)
		for len(r.order) > maxCheckers {
			delete(r.checkers, r.order[0])
			r.order = r.order[1:]
		}
	}
	r.mu.Unlock()
	return c, nil
}

// Invalidate forgets what a write of Questionnaire q makes stale: the versions known of every
// url (the write may have changed q's url or version) and the compiled versions of q.
func (r *Resolver) Invalidate(q *fhir.Resource) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	clear(r.byURL)
	prefix := q.ID + "/"
	kept := r.order[:0]
	for _, k := range r.order {
		if strings.HasPrefix(k, prefix) {
			delete(r.checkers, k)
			continue
		}
		kept = append(kept, k)
	}
	r.order = kept
}

// FindByURL returns every stored Questionnaire whose url is url.
func FindByURL(ctx context.Context, searcher search.Searcher, url string) ([]*fhir.Resource, error) {
	def := search.Lookup("Questionnaire", "url")
	crit := &search.Criteria{Type: "Questionnaire", Params: []search.Param{{Def: def, Values: []search.Value{search.URI{URI: url}}}}}
	return all(ctx, searcher, crit)
}

// all runs a search to its last page.
func all(ctx context.Context, searcher search.Searcher, crit *search.Criteria) ([]*fhir.Resource, error) {
	var out []*fhir.Resource
	cursor := ""
	for {
		res, err := searcher.Search(ctx, &search.Request{Criteria: crit, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		out = append(out, res.Matches...)
		if res.Next == "" || len(res.Matches) == 0 {
			return out, nil
		}
		cursor = res.Next
	}
}

func decodeTree(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree map[string]any
	if err := dec.Decode(&tree); err != nil {
		return nil, err
	}
	return tree, nil
}
