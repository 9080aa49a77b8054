package search

import (
	"context"
	"strings"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// Request is one page of a search to run.
type Request struct {
	// Criteria are the parsed search; Criteria.Count nil means no limit (conditional
	// operations), 0 means the total only.
	Criteria *Criteria
	// Cursor is the page token of a next or previous link ("" for the first page). A token
	// that was not issued by this server for these criteria is a fhir.KindInvalid error.
	Cursor string
	// Compartment, when set ("Patient/123"), limits matches and included resources of
	// patient-data types to that patient's compartment (see CompartmentParams); resources
	// of other types (Questionnaire) are not limited.
	Compartment string
	// BaseURL is the absolute base of the FHIR API as the client sees it, so that absolute
	// reference values that point at this server match the relative references stored.
	BaseURL string
	// MayInclude, when set, says which resource types _include and _revinclude may add
	// (resources of other types are left out, as the caller may not read them), and for
	// each the compartment its included resources must be in ("" for none). When nil,
	// includes follow Compartment.
	MayInclude func(resourceType string) (ok bool, compartment string)
}

// Result is one page of search results.
type Result struct {
	// Matches are the resources that matched, in order (search.mode = match).
	Matches []*fhir.Resource
	// Included are the resources added by _include and _revinclude, each once and never one
	// that is also a match (search.mode = include).
	Included []*fhir.Resource
	// IncludesTruncated reports that _include and _revinclude found more resources than the
	// searcher adds to one page: Included holds that many, and the page must say it is
	// incomplete.
	IncludesTruncated bool
	// Total is the number of matches over all pages, nil when it was not computed.
	Total *int64
	// Next and Prev are the page tokens of the following and preceding pages, "" when there
	// is none. Put them in a link's _cursor parameter next to the canonical criteria.
	Next, Prev string
}

// Match reports whether a version being written is one that some criteria find
// (internal/store compiles them), without a query.
type Match func(c *Candidate) bool

// Candidate is a version being written, with the search values extracted for it, as the
// matches of many criteria see it: what one of them prepares from it is kept for the next.
type Candidate struct {
	Resource *fhir.Resource
	Index    Index
	// Memo is the matcher's own, prepared once per candidate; nil at first.
	Memo any
}

// Searcher runs searches. internal/store implements it over MongoDB.
type Searcher interface {
	Search(ctx context.Context, req *Request) (*Result, error)
}

// CompartmentParams names, per resource type holding patient data, the reference parameter
// that places a resource in a patient's compartment. Types not listed are not patient data.
var CompartmentParams = map[string]string{
	"QuestionnaireResponse": "subject",
	"CarePlan":              "subject",
}

// Compartments returns the patient compartments ("Patient/123") a resource of
// resourceType with these search values is in.
func Compartments(resourceType string, ix Index) []string {
	p, ok := CompartmentParams[resourceType]
	if !ok || ix[p] == nil {
		return nil
	}
	var out []string
	for _, r := range ix[p].R {
		if strings.HasPrefix(r, "Patient/") {
			out = append(out, r)
		}
	}
	return out
}
