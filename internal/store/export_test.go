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
