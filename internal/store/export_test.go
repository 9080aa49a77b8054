package store

import (
	"time"

	"github.com/patient-involvement/fhir-server/internal/search"
)

// CompileForBenchmark compiles criteria as a search would, for benchmarks outside the package.
func CompileForBenchmark(c *search.Criteria) error {
	_, err := compileCriteria(c, "", compileOptions{now: time.Now()})
	return err
}

// SearchField names a parameter's stored field, for benchmarks that query the database
// directly.
func SearchField(param, field string) string { return spField(param, field) }
