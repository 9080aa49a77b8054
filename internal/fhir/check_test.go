package fhir

import (
	"context"
	"testing"
)

// refuser is a ContentChecker held by value, which refuses every write.
type refuser struct{}

func (refuser) Check(context.Context, *ContentWrite) (*ContentReport, error) {
	return nil, Errorf(KindUnprocessable, "refused")
}
func (refuser) Written(*Resource) {}

// noter is a ContentChecker held by pointer, which reports one warning.
type noter struct{}

func (*noter) Check(context.Context, *ContentWrite) (*ContentReport, error) {
	return &ContentReport{Issues: []Issue{{Severity: SeverityWarning, Code: "informational", Diagnostics: "noted"}}}, nil
}
func (*noter) Written(*Resource) {}

// TestContentCheckersLeaveOutNilOnes: nil checkers, interface or pointer, are left out, and
// checkers held by value are asked like the others.
func TestContentCheckersLeaveOutNilOnes(t *testing.T) {
	var nilNoter *noter
	cases := []struct {
		name    string
		cs      []ContentChecker
		refused bool
		issues  int
	}{
		{"nil interface and nil pointer", []ContentChecker{nil, nilNoter}, false, 0},
		{"a pointer", []ContentChecker{nilNoter, &noter{}}, false, 1},
		{"a value", []ContentChecker{&noter{}, refuser{}}, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := ContentCheckers(tc.cs...).Check(context.Background(), &ContentWrite{Type: "CarePlan"})
			if (err != nil) != tc.refused {
				t.Fatalf("error %v, want refused %v", err, tc.refused)
			}
			if !tc.refused && len(rep.Issues) != tc.issues {
				t.Errorf("%d issues, want %d: %+v", len(rep.Issues), tc.issues, rep.Issues)
			}
		})
	}
}
