package store

import (
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/report"
)

// TestReportSelectionIsIndexed proves that a report's selection on MongoDB is served by a
// declared index: its fields, equality conditions first and the range last, are the keys of
// one index in that order.
func TestReportSelectionIsIndexed(t *testing.T) {
	st := &Store{registry: fhir.DefaultRegistry()}
	filter := reportFilter(report.Selection{Canonicals: []string{"u|1"}, Statuses: []string{"completed"}, Start: time.Unix(0, 0), End: time.Now()})
	for _, ix := range st.Indexes() {
		if ix.Collection != "QuestionnaireResponse" || len(ix.Keys) != len(filter) {
			continue
		}
		same := true
		for i, k := range ix.Keys {
			same = same && k.Key == filter[i].Key
		}
		if same {
			return
		}
	}
	t.Errorf("no declared index has the keys of the report selection %v", filter)
}
