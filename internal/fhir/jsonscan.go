package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Member is one "key":value pair of a JSON object, as slices of the object's bytes.
type Member struct {
	// Key is the decoded name.
	Key string
	// RawKey is the name as written, quotes included.
	RawKey []byte
	// Value is the value as written.
	Value []byte
	// Raw is the whole member as written, from the name to the end of the value.
	Raw []byte
}

var errScan = errors.New("malformed JSON object")

// SplitObject splits a JSON object into its members, in order, without decoding the values,
// so that they can be copied byte for byte. White space between tokens is allowed; anything
// after the object is an error.
func SplitObject(b []byte) ([]Member, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, errScan
	}
	i = skipSpace(b, i+1)
	var out []Member
	if i < len(b) && b[i] == '}' {
		if skipSpace(b, i+1) != len(b) {
			return nil, errScan
		}
		return out, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, fmt.Errorf("%w: expected a member name at %d", errScan, i)
		}
		ke, err := scanString(b, i)
		if err != nil {
			return nil, err
		}
		rawKey := b[i:ke]
		key := string(rawKey[1 : len(rawKey)-1])
		if bytes.IndexByte(rawKey, '\\') >= 0 {
			if err := json.Unmarshal(rawKey, &key); err != nil {
				return nil, fmt.Errorf("%w: %v", errScan, err)
			}
		}
		j := skipSpace(b, ke)
		if j >= len(b) || b[j] != ':' {
			return nil, fmt.Errorf("%w: expected ':' at %d", errScan, j)
		}
		j = skipSpace(b, j+1)
		ve, err := scanValue(b, j)
		if err != nil {
			return nil, err
		}
		out = append(out, Member{Key: key, RawKey: rawKey, Value: b[j:ve], Raw: b[i:ve]})
		i = skipSpace(b, ve)
		switch {
		case i < len(b) && b[i] == ',':
			i = skipSpace(b, i+1)
		case i < len(b) && b[i] == '}':
			if skipSpace(b, i+1) != len(b) {
				return nil, fmt.Errorf("%w: data after the object", errScan)
			}
			return out, nil
		default:
			return nil, fmt.Errorf("%w: expected ',' or '}' at %d", errScan, i)
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString returns the index just past the JSON string that starts at b[i] == '"'.
func scanString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("%w: unterminated string", errScan)
}

// scanValue returns the index just past the JSON value that starts at b[i].
func scanValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, fmt.Errorf("%w: missing value", errScan)
	}
	switch b[i] {
	case '"':
		return scanString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e, err := scanString(b, j)
				if err != nil {
					return 0, err
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("%w: unterminated value", errScan)
	default: // number, true, false, null
		j := i
	scan:
		for ; j < len(b); j++ {
			switch b[j] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				break scan
			}
		}
		if j == i {
			return 0, fmt.Errorf("%w: missing value at %d", errScan, i)
		}
		return j, nil
	}
}

// checkDuplicateKeys rejects objects that repeat a key: encoding/json would silently keep the
// last one, dropping what the client sent.
func checkDuplicateKeys(compact []byte, root string) error {
	_, err := dupScan(compact, 0, root)
	return err
}

// dupScan walks the value at obj[i] and returns the index past it.
func dupScan(obj []byte, i int, path string) (int, error) {
	switch obj[i] {
	case '{':
		seen := map[string]struct{}{}
		j := i + 1
		for obj[j] != '}' {
			end, err := scanString(obj, j)
			if err != nil {
				return 0, err
			}
			var key string
			if err := json.Unmarshal(obj[j:end], &key); err != nil {
				return 0, err
			}
			if _, dup := seen[key]; dup {
				p := key
				if path != "" {
					p = path + "." + key
				}
				return 0, Errorf(KindInvalid, "The JSON object at %s repeats the key %q: each element may appear only once", p, key).At(p)
			}
			seen[key] = struct{}{}
			p := key
			if path != "" {
				p = path + "." + key
			}
			j, err = dupScan(obj, end+1, p)
			if err != nil {
				return 0, err
			}
			if obj[j] == ',' {
				j++
			}
		}
		return j + 1, nil
	case '[':
		j := i + 1
		for n := 0; obj[j] != ']'; n++ {
			var err error
			j, err = dupScan(obj, j, fmt.Sprintf("%s[%d]", path, n))
			if err != nil {
				return 0, err
			}
			if obj[j] == ',' {
				j++
			}
		}
		return j + 1, nil
	default:
		return scanValue(obj, i)
	}
}
