package fhir

import (
	"strconv"
	"strings"
)

// CompareVersions orders two business versions of a canonical resource (Questionnaire.version)
// the one way the server decides which is the newest, for _include of a canonical and for a
// response's questionnaire alike: part by dotted part, numerically where both parts are
// numbers ("1.10" > "1.9"), as text otherwise; with equal leading parts the longer is newer.
func CompareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, ea := strconv.ParseInt(pa[i], 10, 64)
		nb, eb := strconv.ParseInt(pb[i], 10, 64)
		switch {
		case ea == nil && eb == nil:
			if na != nb {
				if na < nb {
					return -1
				}
				return 1
			}
		case pa[i] != pb[i]:
			return strings.Compare(pa[i], pb[i])
		}
	}
	return len(pa) - len(pb)
}
