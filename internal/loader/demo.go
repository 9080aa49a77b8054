package loader

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"

	"github.com/patient-involvement/fhir-server/fixtures"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/generate"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// Demo's generated data: enough patients for a year of experience surveys with most care
// units above a report's minimum count in a quarter, and a few small ones below it.
const (
	demoPatients = 150
	demoSeed     = 2026
)

// Demo loads the fixtures embedded in the binary through svc (with searcher for conditional
// creates), on first start only: when no
// Questionnaire was ever written to the database (none current, none deleted). Later starts,
// and databases that already hold the user's own questionnaires, are left alone. It reports
// whether it loaded; a fixture that is refused is an error.
func Demo(ctx context.Context, svc *fhir.Service, searcher search.Searcher, log *slog.Logger) (bool, error) {
	page, err := svc.History(ctx, fhir.HistoryQuery{Type: "Questionnaire", Count: 1})
	if err != nil {
		return false, fmt.Errorf("demo data: look for questionnaires: %w", err)
	}
	if len(page.Versions) > 0 {
		log.Info("demo data not loaded: the database already holds questionnaires")
		return false, nil
	}
	inputs, err := FSInputs(fixtures.FS(), ".", "fixtures")
	if err != nil {
		return false, fmt.Errorf("demo data: %w", err)
	}
	// Generated responses and care plans besides the fixtures, so that the reports have
	// units to compare (see internal/generate).
	var gen bytes.Buffer
	if _, err := generate.Write(&gen, fixtures.FS(), generate.Options{Patients: demoPatients, Seed: demoSeed}); err != nil {
		return false, fmt.Errorf("demo data: generate: %w", err)
	}
	inputs = append(inputs, Input{Name: "generated.ndjson", Size: int64(gen.Len()), NDJSON: true,
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(gen.Bytes())), nil }})
	// Questionnaires go last: their presence is what marks the demo data as loaded, so a
	// first start that is interrupted is completed by the next one.
	sort.SliceStable(inputs, func(i, j int) bool {
		return !isQuestionnaire(inputs[i].Name) && isQuestionnaire(inputs[j].Name)
	})
	target, err := NewServiceTarget(svc, searcher)
	if err != nil {
		return false, err
	}
	l, err := New(target, Options{})
	if err != nil {
		return false, err
	}
	sum, err := l.Load(ctx, inputs)
	if err != nil {
		return false, fmt.Errorf("demo data: %w", err)
	}
	t := sum.Total()
	log.Info("demo data loaded", "resources", t.Total(), "created", t.Created, "unchanged", t.Unchanged,
		"elapsed", sum.Elapsed.String())
	return true, nil
}

func isQuestionnaire(name string) bool { return strings.HasPrefix(name, "fixtures/Questionnaire/") }
