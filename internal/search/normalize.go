package search

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Normalize folds a string for string search: lower case, accents removed (Unicode NFD with
// the combining marks dropped), every run of white space collapsed to one space, and no
// leading or trailing space. "Ærø Å Öst  Ü" becomes "ærø a ost u": letters such as æ and ø
// have no decomposition and stay as they are. Stored values (Values.N) and search values go
// through the same function, so that a string search is a prefix or substring comparison
// of two normalised strings.
func Normalize(s string) string {
	if isFolded(s) {
		return s
	}
	if !isASCII(s) {
		// The marks are dropped rune by rune below rather than with a transform.Chain of
		// runes.Remove: a Transformer carries state and is not safe for concurrent use.
		s = norm.NFD.String(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	pendingSpace := false
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case unicode.IsSpace(r):
			pendingSpace = b.Len() > 0
			continue
		}
		if pendingSpace {
			b.WriteByte(' ')
			pendingSpace = false
		}
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			b.WriteByte(byte(r))
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// isFolded reports whether s is ASCII and already normalised, so Normalize can return it as is.
func isFolded(s string) bool {
	if s == "" {
		return true
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf, 'A' <= c && c <= 'Z', c == '\t', c == '\n', c == '\v', c == '\f', c == '\r':
			return false
		case c == ' ' && s[i+1] == ' ':
			return false
		}
	}
	return true
}
