package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Resource is one version of a stored resource.
type Resource struct {
	Type        string
	ID          string
	VersionID   int64
	LastUpdated time.Time
	// Deleted marks the version written by a delete; it has no body.
	Deleted bool
	// Method is the interaction that wrote this version: POST, PUT or DELETE.
	Method string
	// Raw is the resource exactly as served: the client's JSON, compacted, with the
	// server-owned id, meta.versionId and meta.lastUpdated set.
	Raw []byte
	// Tree is the decoded body (objects as map[string]any, numbers as json.Number). It is set
	// for resources being written, so storage can extract search values without decoding again.
	Tree map[string]any
	// Derived are values computed from the content by the content checker (scores), for
	// storage to index beside the version; set for resources being written.
	Derived []Derived
	// Compartments are the patient compartments the version belongs to ("Patient/123"),
	// as stored with it; set on versions read from storage.
	Compartments []string
}

// ETag is the weak entity tag of this version.
func (r *Resource) ETag() string { return `W/"` + strconv.FormatInt(r.VersionID, 10) + `"` }

// idPattern is the FHIR R4 id datatype.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

// ValidID reports whether id is a valid FHIR resource id: 1 to 64 letters, digits, '-' and
// '.', and not only dots ("." and ".." are path segments, not names).
func ValidID(id string) bool { return idPattern.MatchString(id) && strings.Trim(id, ".") != "" }

// CheckID returns a KindInvalid error when id is not a valid FHIR id.
func CheckID(id string) error {
	if !ValidID(id) {
		return Errorf(KindInvalid, "%q is not a valid resource id: use 1 to 64 letters, digits, '-' and '.', not only dots", id)
	}
	return nil
}

// Body is a decoded, validated resource from a request, before the server assigns its
// version: Type and (if it had one) the id in the body, the compacted JSON and the tree.
type Body struct {
	Type string
	ID   string
	// compact is the client's JSON with insignificant whitespace removed.
	compact []byte
	Tree    map[string]any
}

// ParseBody decodes and validates a resource sent by a client, holding at most
// DefaultMaxJSONValues JSON values. expectedType is the type the URL names ("" when any type
// is allowed). It returns KindInvalid errors naming the problem, KindTooLarge for too many
// values.
func ParseBody(data []byte, expectedType string) (*Body, error) {
	return parseBody(data, expectedType, DefaultMaxJSONValues)
}

// parseBody is ParseBody with at most maxValues JSON values: the body is checked as JSON
// (strictly, UTF-8 and the bound included) before anything decodes it.
func parseBody(data []byte, expectedType string, maxValues int) (*Body, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, Errorf(KindInvalid, "The request body is empty: send a FHIR resource as JSON")
	}
	if err := checkJSON(data, maxValues); err != nil {
		return nil, err
	}
	// checkJSON has read data as exactly one JSON value and refuses all that encoding/json
	// refuses (FuzzCheckJSON): Compact cannot fail, and the one value Decode reads is all.
	var buf bytes.Buffer
	buf.Grow(len(data))
	_ = json.Compact(&buf, data)
	compact := buf.Bytes()
	if compact[0] != '{' {
		return nil, Errorf(KindInvalid, "The request body must be a JSON object holding a FHIR resource")
	}
	dec := json.NewDecoder(bytes.NewReader(compact))
	dec.UseNumber()
	var tree map[string]any
	if err := dec.Decode(&tree); err != nil {
		return nil, Errorf(KindInvalid, "The request body is not valid JSON: %v", err)
	}
	rt, ok := tree["resourceType"].(string)
	if !ok || rt == "" {
		return nil, Errorf(KindInvalid, "The resource has no resourceType").At("resourceType")
	}
	if expectedType != "" && rt != expectedType {
		return nil, Errorf(KindInvalid, "The resource's resourceType is %q but the URL is for %s", rt, expectedType).At("resourceType")
	}
	if _, known := modelTypes[rt]; !known {
		return nil, Errorf(KindInvalid, "%q is not a FHIR R4 resource type", rt).At("resourceType")
	}
	// Report a repeated key together with every other problem, so one round trip shows all.
	var issues []Issue
	if err := checkDuplicateKeys(compact, rt); err != nil {
		var fe *Error
		if !errors.As(err, &fe) {
			return nil, err
		}
		issues = append(issues, fe.Issues...)
	}
	b := &Body{Type: rt, compact: compact, Tree: tree}
	if idv, present := tree["id"]; present {
		id, _ := idv.(string)
		if err := CheckID(id); err != nil {
			return nil, Errorf(KindInvalid, "The resource's id %v is not valid: use 1 to 64 letters, digits, '-' and '.', not only dots", jsonText(idv)).At(rt + ".id")
		}
		b.ID = id
	}
	if err := ValidateTree(rt, tree); err != nil {
		var fe *Error
		if !errors.As(err, &fe) {
			return nil, err
		}
		issues = append(issues, fe.Issues...)
	}
	if len(issues) > 0 {
		return nil, &Error{Kind: KindInvalid, Issues: issues}
	}
	return b, nil
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Version builds the stored form of b as version vid written at ts: the client's JSON with
// resourceType first, then the server-owned id and meta, then every other member in the order
// the client sent it, byte for byte.
func (b *Body) Version(id string, vid int64, ts time.Time, method string) (*Resource, error) {
	members, err := SplitObject(b.compact)
	if err != nil {
		return nil, Wrap(err, "split resource")
	}
	ts = ts.UTC().Truncate(time.Millisecond)
	var out bytes.Buffer
	out.Grow(len(b.compact) + 128)
	out.WriteString(`{"resourceType":`)
	writeJSONString(&out, b.Type)
	out.WriteString(`,"id":`)
	writeJSONString(&out, id)
	out.WriteString(`,"meta":{"versionId":"`)
	out.WriteString(strconv.FormatInt(vid, 10))
	out.WriteString(`","lastUpdated":"`)
	out.WriteString(FormatInstant(ts))
	out.WriteByte('"')
	for _, m := range members {
		if m.Key != "meta" {
			continue
		}
		metaMembers, err := SplitObject(m.Value)
		if err != nil {
			return nil, Wrap(err, "split meta")
		}
		for _, mm := range metaMembers {
			if mm.Key == "versionId" || mm.Key == "lastUpdated" {
				continue
			}
			out.WriteByte(',')
			out.Write(mm.Raw)
		}
	}
	out.WriteByte('}')
	for _, m := range members {
		switch m.Key {
		case "resourceType", "id", "meta":
			continue
		}
		out.WriteByte(',')
		out.Write(m.Raw)
	}
	out.WriteByte('}')

	// Keep the tree in step with the stored JSON for search extraction.
	b.Tree["id"] = id
	meta, _ := b.Tree["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		b.Tree["meta"] = meta
	}
	meta["versionId"] = strconv.FormatInt(vid, 10)
	meta["lastUpdated"] = FormatInstant(ts)

	return &Resource{
		Type: b.Type, ID: id, VersionID: vid, LastUpdated: ts, Method: method,
		Raw: out.Bytes(), Tree: b.Tree,
	}, nil
}

// FormatInstant formats t as a FHIR instant in UTC with millisecond precision.
func FormatInstant(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

func writeJSONString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s)
	buf.Write(b)
}
