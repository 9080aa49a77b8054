package loader

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"strings"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// head is what the loader reads of a resource to place it: the rest is passed on untouched.
type head struct {
	ResourceType string          `json:"resourceType"`
	ID           json.RawMessage `json:"id"`
	URL          string          `json:"url"`
	Version      string          `json:"version"`
	// Identifier is a list on most types but a single Identifier on some (e.g.
	// QuestionnaireResponse, Bundle), so it is decoded by firstIdentifier.
	Identifier json.RawMessage `json:"identifier"`
}

type identifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

// firstIdentifier returns the first identifier with a value, from a list or a single object.
func (h *head) firstIdentifier() (identifier, bool) {
	raw := bytes.TrimSpace(h.Identifier)
	if len(raw) == 0 {
		return identifier{}, false
	}
	var list []identifier
	if raw[0] == '{' {
		var one identifier
		if json.Unmarshal(raw, &one) != nil {
			return identifier{}, false
		}
		list = []identifier{one}
	} else if json.Unmarshal(raw, &list) != nil {
		return identifier{}, false
	}
	for _, id := range list {
		if id.Value != "" {
			return id, true
		}
	}
	return identifier{}, false
}

// identity is how a resource is found again on a later load: by its own id, by the
// criteria of a conditional create, or by an id the loader adds to it.
type identity struct {
	// id is the id the resource is written under with an update; "" when criteria place it.
	id string
	// added is set when the loader added id to the body.
	added bool
	// criteria find the resource by its business identity (conditional create with
	// If-None-Exist); nil when id places it.
	criteria url.Values
}

// key names the resource within a load, for keeping its writes in one worker.
func (i identity) key() string {
	if i.criteria != nil {
		return "?" + i.criteria.Encode()
	}
	return i.id
}

// stableID chooses how a resource is found again, so that loading the same data again
// writes nothing new:
//   - its own id: it is written under that id with an update (update as create);
//   - else its canonical url and version (url=…&version=…, or version:missing=true when it
//     has no version): a conditional create finds it or creates it;
//   - else its first identifier (identifier=system|value): likewise;
//   - else, for a Bundle entry, the UUID of a urn:uuid fullUrl, added to it as its id.
//
// A resource with none of these has no stable identity and is refused, since loading it
// twice would make two copies.
func stableID(h *head, fullURL string) (identity, error) {
	if len(h.ID) > 0 && string(h.ID) != "null" {
		var id string
		if json.Unmarshal(h.ID, &id) != nil || !fhir.ValidID(id) {
			return identity{}, fmt.Errorf("id %s is not a valid FHIR id: use 1 to 64 letters, digits, '-' and '.'", h.ID)
		}
		return identity{id: id}, nil
	}
	if h.URL != "" {
		q := url.Values{"url": {escapeValue(h.URL)}}
		if h.Version != "" {
			q.Set("version", escapeValue(h.Version))
		} else {
			q.Set("version:missing", "true")
		}
		return identity{criteria: q}, nil
	}
	if ident, ok := h.firstIdentifier(); ok {
		return identity{criteria: url.Values{"identifier": {escapeValue(ident.System) + "|" + escapeValue(ident.Value)}}}, nil
	}
	if uuid, ok := strings.CutPrefix(fullURL, "urn:uuid:"); ok && fhir.ValidID(uuid) {
		return identity{id: strings.ToLower(uuid), added: true}, nil
	}
	return identity{}, fmt.Errorf("the resource has no id, no url and no identifier, so it cannot be found again on a later load: give it an id")
}

// escapeValue escapes the characters that separate the parts of a search value
// (search.html, "Escaping Search Parameters"): \ , $ and |.
func escapeValue(s string) string {
	if !strings.ContainsAny(s, `\,$|`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', ',', '$', '|':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// withID returns the JSON object body with "id" added as its first member.
func withID(body []byte, id string) ([]byte, error) {
	body = bytes.TrimSpace(body)
	if len(body) < 2 || body[0] != '{' {
		return nil, fmt.Errorf("the resource is not a JSON object")
	}
	rest := bytes.TrimSpace(body[1:])
	var out bytes.Buffer
	out.Grow(len(body) + len(id) + 10)
	out.WriteString(`{"id":`)
	q, _ := json.Marshal(id)
	out.Write(q)
	if len(rest) > 0 && rest[0] != '}' {
		out.WriteByte(',')
	}
	out.Write(rest)
	return out.Bytes(), nil
}

// sameContent reports whether a stored resource and a resource to load say the same thing:
// equal JSON apart from member order, insignificant whitespace and the server-owned
// meta.versionId and meta.lastUpdated. Numbers compare by their text, as the server keeps it.
func sameContent(stored, body []byte) bool {
	a, errA := normalised(stored)
	b, errB := normalised(body)
	return errA == nil && errB == nil && reflect.DeepEqual(a, b)
}

func normalised(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if meta, ok := m["meta"].(map[string]any); ok {
		delete(meta, "versionId")
		delete(meta, "lastUpdated")
		if len(meta) == 0 {
			delete(m, "meta")
		}
	}
	return m, nil
}
