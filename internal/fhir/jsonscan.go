package fhir

import (
	"encoding/json"
	"errors"
	"fmt"
)

// member is one "key":value pair of a JSON object, as byte ranges of compact JSON.
type member struct {
	key   string
	value []byte // the value's bytes
	raw   []byte // "key":value, ready to copy
}

var errScan = errors.New("malformed JSON object")

// topLevelMembers splits a compact JSON object into its members without decoding the values.
func topLevelMembers(obj []byte) ([]member, error) {
	if len(obj) < 2 || obj[0] != '{' || obj[len(obj)-1] != '}' {
		return nil, errScan
	}
	var out []member
	i := 1
	for i < len(obj)-1 {
		start := i
		if obj[i] != '"' {
			return nil, fmt.Errorf("%w: expected a key at %d", errScan, i)
		}
		end, err := skipString(obj, i)
		if err != nil {
			return nil, err
		}
		var key string
		if err := json.Unmarshal(obj[i:end], &key); err != nil {
			return nil, err
		}
		if end >= len(obj) || obj[end] != ':' {
			return nil, fmt.Errorf("%w: expected ':' at %d", errScan, end)
		}
		vstart := end + 1
		vend, err := skipValue(obj, vstart)
		if err != nil {
			return nil, err
		}
		out = append(out, member{key: key, value: obj[vstart:vend], raw: obj[start:vend]})
		i = vend
		if i < len(obj)-1 {
			if obj[i] != ',' {
				return nil, fmt.Errorf("%w: expected ',' at %d", errScan, i)
			}
			i++
		}
	}
	return out, nil
}

// skipString returns the index just past the JSON string starting at obj[i] == '"'.
func skipString(obj []byte, i int) (int, error) {
	for j := i + 1; j < len(obj); j++ {
		switch obj[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errScan
}

// skipValue returns the index just past the compact JSON value starting at obj[i].
func skipValue(obj []byte, i int) (int, error) {
	if i >= len(obj) {
		return 0, errScan
	}
	switch obj[i] {
	case '"':
		return skipString(obj, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(obj); j++ {
			switch obj[j] {
			case '"':
				e, err := skipString(obj, j)
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
		return 0, errScan
	default: // number, true, false, null
		j := i
		for j < len(obj) && obj[j] != ',' && obj[j] != '}' && obj[j] != ']' {
			j++
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
			end, err := skipString(obj, j)
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
		return skipValue(obj, i)
	}
}
