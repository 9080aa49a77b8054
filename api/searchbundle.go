package api

import (
	"net/url"
	"time"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// Search entry modes (Bundle.entry.search.mode).
const (
	modeMatch   = "match"
	modeInclude = "include"
	modeOutcome = "outcome"
)

// searchBundle assembles the searchset Bundle of one page of res: the total when it was
// counted; the self link (the criteria as applied, in canonical form, with the page's
// _cursor), first, and next and previous when there are such pages; an OperationOutcome
// entry with the warnings of the parser; then the matches and the included resources.
//
// Resources are copied in as stored, or as search.Shape cuts them for _summary and
// _elements, never decoded and encoded again. _elements shapes the matches only: its names
// are elements of the type searched, and included resources of other types keep theirs.
func searchBundle(base string, c *search.Criteria, cursor string, res *search.Result, warnings []fhir.Issue, now time.Time) ([]byte, error) {
	b := newBundle("searchset", now)
	if res.Total != nil {
		total := *res.Total
		b.Total = &total
	}
	typeURL := base + "/" + c.Type
	query := c.Encode()
	b.Link = append(b.Link, BundleLink{Relation: "self", URL: pageURL(typeURL, query, cursor)})
	b.Link = append(b.Link, BundleLink{Relation: "first", URL: pageURL(typeURL, query, "")})
	if res.Prev != "" {
		b.Link = append(b.Link, BundleLink{Relation: "previous", URL: pageURL(typeURL, query, res.Prev)})
	}
	if res.Next != "" {
		b.Link = append(b.Link, BundleLink{Relation: "next", URL: pageURL(typeURL, query, res.Next)})
	}
	if len(warnings) > 0 {
		b.Entry = append(b.Entry, BundleEntry{
			Resource: fhir.NewOperationOutcome(warnings...).JSON(),
			Search:   &EntrySearch{Mode: modeOutcome},
		})
	}
	if countOnly(c) {
		return encodeBundle(b)
	}
	add := func(r *fhir.Resource, mode string, elements []string) error {
		raw := r.Raw
		if (c.Summary != "" && c.Summary != search.SummaryFalse) || len(elements) > 0 {
			var err error
			if raw, err = search.Shape(raw, r.Type, c.Summary, elements); err != nil {
				return fhir.Wrap(err, "shape %s/%s", r.Type, r.ID)
			}
		}
		b.Entry = append(b.Entry, BundleEntry{
			FullURL:  base + "/" + r.Type + "/" + r.ID,
			Resource: raw,
			Search:   &EntrySearch{Mode: mode},
		})
		return nil
	}
	for _, r := range res.Matches {
		if err := add(r, modeMatch, c.Elements); err != nil {
			return nil, err
		}
	}
	for _, r := range res.Included {
		if err := add(r, modeInclude, nil); err != nil {
			return nil, err
		}
	}
	return encodeBundle(b)
}

// countOnly reports whether the search asks for the total only: _summary=count or _count=0.
func countOnly(c *search.Criteria) bool {
	return c.Summary == search.SummaryCount || (c.Count != nil && *c.Count == 0)
}

// pageURL is the GET URL of a page of a search: the canonical query, then the page's _cursor.
func pageURL(typeURL, query, cursor string) string {
	if cursor != "" {
		if query != "" {
			query += "&"
		}
		query += cursorParam + "=" + url.QueryEscape(cursor)
	}
	if query == "" {
		return typeURL
	}
	return typeURL + "?" + query
}
