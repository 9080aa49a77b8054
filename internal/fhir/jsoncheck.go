package fhir

import (
	"fmt"
	"unicode/utf8"
)

// DefaultMaxJSONValues is the most JSON values a body may hold when WithMaxJSONValues leaves it
// unset: far above real resources (the largest of the shared corpus, a 1 MiB Questionnaire,
// holds about 16,000), far below what a body of empty elements packs into the body limit.
const DefaultMaxJSONValues = 200000

// maxJSONDepth is the deepest nesting of objects and arrays accepted.
const maxJSONDepth = 200

// checkJSON reads data as one JSON value, strictly (RFC 8259), before anything decodes it,
// and fails with the first problem and where it is: a syntax error, text that is not UTF-8,
// an escape that names no character (a lone surrogate), a control character in a string,
// nesting deeper than maxJSONDepth (KindInvalid), or more than maxValues values
// (KindTooLarge): a body is never decoded further than this check has gone.
func checkJSON(data []byte, maxValues int) error {
	c := jsonChecker{data: data, maxValues: maxValues}
	c.skipSpace()
	if err := c.value(0); err != nil {
		return err
	}
	c.skipSpace()
	if c.i < len(c.data) {
		return c.fail("unexpected %s after the JSON value: the body must hold exactly one JSON object", c.what())
	}
	return nil
}

type jsonChecker struct {
	data      []byte
	i         int
	values    int
	maxValues int
}

func (c *jsonChecker) skipSpace() { c.i = skipSpace(c.data, c.i) }

// fail builds the error for the position c.i.
func (c *jsonChecker) fail(format string, args ...any) error {
	line, col := position(c.data, c.i)
	return Errorf(KindInvalid, "The request body is not valid JSON: %s (line %d, column %d)", fmt.Sprintf(format, args...), line, col)
}

// position is the line and column (in characters, from 1) of byte offset off.
func position(data []byte, off int) (line, col int) {
	line, col = 1, 1
	for i := 0; i < off && i < len(data); {
		if data[i] == '\n' {
			line, col = line+1, 1
			i++
			continue
		}
		_, n := utf8.DecodeRune(data[i:])
		i += n
		col++
	}
	return line, col
}

// what names the byte at c.i for a message.
func (c *jsonChecker) what() string {
	if c.i >= len(c.data) {
		return "end of the body"
	}
	b := c.data[c.i]
	if b >= 0x20 && b < 0x7f {
		return fmt.Sprintf("character %q", rune(b))
	}
	return fmt.Sprintf("byte 0x%02x", b)
}

func (c *jsonChecker) value(depth int) error {
	if c.values++; c.values > c.maxValues {
		return Errorf(KindTooLarge, "The request body holds more than %d JSON values, the most this server reads in one resource", c.maxValues)
	}
	if c.i >= len(c.data) {
		return c.fail("the body ends where a value should be")
	}
	switch b := c.data[c.i]; {
	case b == '{':
		return c.object(depth + 1)
	case b == '[':
		return c.array(depth + 1)
	case b == '"':
		return c.str()
	case b == '-' || (b >= '0' && b <= '9'):
		return c.number()
	case b == 't':
		return c.literal("true")
	case b == 'f':
		return c.literal("false")
	case b == 'n':
		return c.literal("null")
	default:
		return c.fail("%s where a value should be", c.what())
	}
}

func (c *jsonChecker) object(depth int) error {
	if depth > maxJSONDepth {
		return c.fail("objects and arrays are nested deeper than %d", maxJSONDepth)
	}
	c.i++ // {
	c.skipSpace()
	if c.i < len(c.data) && c.data[c.i] == '}' {
		c.i++
		return nil
	}
	for {
		if c.i >= len(c.data) || c.data[c.i] != '"' {
			return c.fail("%s where a member name (a string in double quotes) should be", c.what())
		}
		if err := c.str(); err != nil {
			return err
		}
		c.skipSpace()
		if c.i >= len(c.data) || c.data[c.i] != ':' {
			return c.fail("%s where ':' should follow a member name", c.what())
		}
		c.i++
		c.skipSpace()
		if err := c.value(depth); err != nil {
			return err
		}
		c.skipSpace()
		if c.i >= len(c.data) {
			return c.fail("the body ends inside an object: '}' is missing")
		}
		switch c.data[c.i] {
		case ',':
			c.i++
			c.skipSpace()
		case '}':
			c.i++
			return nil
		default:
			return c.fail("%s where ',' or '}' should be", c.what())
		}
	}
}

func (c *jsonChecker) array(depth int) error {
	if depth > maxJSONDepth {
		return c.fail("objects and arrays are nested deeper than %d", maxJSONDepth)
	}
	c.i++ // [
	c.skipSpace()
	if c.i < len(c.data) && c.data[c.i] == ']' {
		c.i++
		return nil
	}
	for {
		if err := c.value(depth); err != nil {
			return err
		}
		c.skipSpace()
		if c.i >= len(c.data) {
			return c.fail("the body ends inside an array: ']' is missing")
		}
		switch c.data[c.i] {
		case ',':
			c.i++
			c.skipSpace()
		case ']':
			c.i++
			return nil
		default:
			return c.fail("%s where ',' or ']' should be", c.what())
		}
	}
}

// str checks the string at c.i: UTF-8 text, no raw control character, valid escapes, and
// \u escapes that name characters (a surrogate only as half of a pair).
func (c *jsonChecker) str() error {
	start := c.i
	c.i++ // "
	for c.i < len(c.data) {
		b := c.data[c.i]
		switch {
		case b == '"':
			c.i++
			return nil
		case b == '\\':
			if err := c.escape(); err != nil {
				return err
			}
		case b < 0x20:
			return c.fail("a control character (0x%02x) inside a string: write it as an escape such as \\n or \\u%04x", b, b)
		case b < utf8.RuneSelf:
			c.i++
		default:
			r, n := utf8.DecodeRune(c.data[c.i:])
			if r == utf8.RuneError && n <= 1 {
				return c.fail("the bytes of a string are not UTF-8 (byte 0x%02x): FHIR JSON is UTF-8 text", b)
			}
			c.i += n
		}
	}
	c.i = start
	return c.fail("a string is not closed: its '\"' is missing")
}

func (c *jsonChecker) escape() error {
	if c.i+1 >= len(c.data) {
		c.i = len(c.data)
		return c.fail("the body ends inside an escape")
	}
	switch c.data[c.i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		c.i += 2
		return nil
	case 'u':
		r, ok := c.hex4(c.i + 2)
		if !ok {
			return c.fail("\\u must be followed by four hexadecimal digits")
		}
		switch {
		case r >= 0xD800 && r < 0xDC00: // high surrogate: a low one must follow
			lo, ok := rune(0), false
			if c.i+7 < len(c.data) && c.data[c.i+6] == '\\' && c.data[c.i+7] == 'u' {
				lo, ok = c.hex4(c.i + 8)
			}
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return c.fail("\\u%04X is half of a surrogate pair without its other half: it names no character", r)
			}
			c.i += 12
		case r >= 0xDC00 && r <= 0xDFFF:
			return c.fail("\\u%04X is half of a surrogate pair without its other half: it names no character", r)
		default:
			c.i += 6
		}
		return nil
	default:
		c.i++
		return c.fail("%s is not an escape: use \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX", c.what())
	}
}

func (c *jsonChecker) hex4(at int) (rune, bool) {
	if at+4 > len(c.data) {
		return 0, false
	}
	var r rune
	for _, b := range c.data[at : at+4] {
		r <<= 4
		switch {
		case b >= '0' && b <= '9':
			r |= rune(b - '0')
		case b >= 'a' && b <= 'f':
			r |= rune(b-'a') + 10
		case b >= 'A' && b <= 'F':
			r |= rune(b-'A') + 10
		default:
			return 0, false
		}
	}
	return r, true
}

func (c *jsonChecker) digits() int {
	n := 0
	for c.i < len(c.data) && c.data[c.i] >= '0' && c.data[c.i] <= '9' {
		c.i++
		n++
	}
	return n
}

func (c *jsonChecker) number() error {
	if c.data[c.i] == '-' {
		c.i++
	}
	switch {
	case c.i < len(c.data) && c.data[c.i] == '0':
		c.i++
		if c.i < len(c.data) && c.data[c.i] >= '0' && c.data[c.i] <= '9' {
			return c.fail("a number must not start with 0 followed by more digits")
		}
	case c.digits() == 0:
		return c.fail("%s where the digits of a number should be", c.what())
	}
	if c.i < len(c.data) && c.data[c.i] == '.' {
		c.i++
		if c.digits() == 0 {
			return c.fail("%s where the digits after a decimal point should be", c.what())
		}
	}
	if c.i < len(c.data) && (c.data[c.i] == 'e' || c.data[c.i] == 'E') {
		c.i++
		if c.i < len(c.data) && (c.data[c.i] == '+' || c.data[c.i] == '-') {
			c.i++
		}
		if c.digits() == 0 {
			return c.fail("%s where the digits of an exponent should be", c.what())
		}
	}
	return nil
}

func (c *jsonChecker) literal(word string) error {
	if len(c.data)-c.i < len(word) || string(c.data[c.i:c.i+len(word)]) != word {
		return c.fail("%s where a value should be (strings are written in double quotes)", c.what())
	}
	c.i += len(word)
	return nil
}
