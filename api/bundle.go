package api

import (
	"bytes"
	"encoding/json"
	"time"
)

// Bundle is the JSON shape of the Bundles the server sends.
type Bundle struct {
	ResourceType string        `json:"resourceType"`
	ID           string        `json:"id,omitempty"`
	Meta         *BundleMeta   `json:"meta,omitempty"`
	Type         string        `json:"type"`
	Total        *int64        `json:"total,omitempty"`
	Link         []BundleLink  `json:"link,omitempty"`
	Entry        []BundleEntry `json:"entry,omitempty"`
}

// BundleMeta is Bundle.meta.
type BundleMeta struct {
	LastUpdated string `json:"lastUpdated"`
}

// BundleLink is Bundle.link.
type BundleLink struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

// BundleEntry is Bundle.entry.
type BundleEntry struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Search   *EntrySearch    `json:"search,omitempty"`
	Request  *EntryRequest   `json:"request,omitempty"`
	Response *EntryResponse  `json:"response,omitempty"`
}

// EntrySearch is Bundle.entry.search.
type EntrySearch struct {
	Mode string `json:"mode"`
}

// EntryRequest is Bundle.entry.request.
type EntryRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

// EntryResponse is Bundle.entry.response.
type EntryResponse struct {
	Status       string `json:"status"`
	Location     string `json:"location,omitempty"`
	Etag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	// Outcome is the OperationOutcome of a batch or transaction entry that failed, or that
	// Prefer: return=OperationOutcome asked for.
	Outcome json.RawMessage `json:"outcome,omitempty"`
}

func newBundle(typ string, now time.Time) *Bundle {
	return &Bundle{
		ResourceType: "Bundle",
		ID:           newBundleID(),
		Meta:         &BundleMeta{LastUpdated: now.UTC().Format("2006-01-02T15:04:05.000Z07:00")},
		Type:         typ,
	}
}

// encodeBundle writes b as JSON. The resources of its entries are copied in as they are,
// never decoded or re-encoded: they are the exact JSON the server keeps.
func encodeBundle(b *Bundle) ([]byte, error) {
	head := *b
	head.Entry = nil
	out, err := marshalJSON(&head)
	if err != nil || len(b.Entry) == 0 {
		return out, err
	}
	out = append(out[:len(out)-1], `,"entry":[`...) // reopen the object: Bundle.entry comes last
	for i, e := range b.Entry {
		if i > 0 {
			out = append(out, ',')
		}
		if out, err = appendEntry(out, e); err != nil {
			return nil, err
		}
	}
	return append(out, "]}"...), nil
}

// appendEntry appends the JSON of e to dst, with its resource copied in after fullUrl, in
// the element order of Bundle.entry.
func appendEntry(dst []byte, e BundleEntry) ([]byte, error) {
	resource := e.Resource
	e.Resource = nil
	rest, err := marshalJSON(&e)
	if err != nil || len(resource) == 0 {
		return append(dst, rest...), err
	}
	split := 1 // after "{"
	if e.FullURL != "" {
		u, err := marshalJSON(e.FullURL)
		if err != nil {
			return nil, err
		}
		split = len(`{"fullUrl":`) + len(u)
		dst = append(dst, rest[:split]...)
		dst = append(dst, ',')
	} else {
		dst = append(dst, '{')
	}
	dst = append(dst, `"resource":`...)
	dst = append(dst, resource...)
	if rest[split] != '}' && rest[split] != ',' {
		dst = append(dst, ',')
	}
	return append(dst, rest[split:]...), nil
}

// marshalJSON is json.Marshal without HTML escaping, as writeValue encodes.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
