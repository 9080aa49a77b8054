package search

import (
	"net/url"
	"sort"
	"unicode/utf8"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// CheckText rejects a query whose parameter names or values are not text: bytes that are
// not UTF-8, or control characters (a NUL, a line break, …), which no search value holds
// and no database should be sent. It returns a fhir.KindInvalid error naming the parameter.
func CheckText(q url.Values) error {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := checkText(k, k, "name"); err != nil {
			return err
		}
		for _, v := range q[k] {
			if err := checkText(k, v, "value"); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkText(param, s, what string) error {
	if !utf8.ValidString(s) {
		return fhir.Errorf(fhir.KindInvalid, "The %s of search parameter %q is not UTF-8 text: percent-encode the UTF-8 bytes of each character", what, url.QueryEscape(param)).At(param)
	}
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return fhir.Errorf(fhir.KindInvalid, "The %s of search parameter %q holds a control character (U+%04X), which no search value may hold", what, url.QueryEscape(param), r).At(param)
		}
	}
	return nil
}
