package store

import (
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/patient-involvement/fhir-server/internal/report"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// ReportFilter is the filter of a report's selection, for benchmarks that read the same
// documents directly.
func ReportFilter(sel report.Selection) bson.D { return reportFilter(sel) }

// CompileForBenchmark compiles criteria as a search would, for benchmarks outside the package.
func CompileForBenchmark(c *search.Criteria) error {
	_, err := compileCriteria(c, "", compileOptions{now: time.Now()})
	return err
}

// SearchField names a parameter's stored field, for benchmarks that query the database
// directly.
func SearchField(param, field string) string { return spField(param, field) }
