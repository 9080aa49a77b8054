package generate

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
)

// Responses returns the first n QuestionnaireResponses that Write generates with seed, each as
// its JSON line: a data set of a chosen size for tests and benchmarks.
func Responses(fsys fs.FS, n int, seed uint64) ([][]byte, error) {
	var buf bytes.Buffer
	// About four responses a patient: a third of n patients, and some more, always suffice.
	if _, err := Write(&buf, fsys, Options{Patients: n/3 + 10, Seed: seed}); err != nil {
		return nil, err
	}
	var out [][]byte
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() && len(out) < n {
		if bytes.Contains(sc.Bytes(), []byte(`"resourceType":"QuestionnaireResponse"`)) {
			out = append(out, append([]byte(nil), sc.Bytes()...))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) < n {
		return nil, fmt.Errorf("generate: %d responses, want %d", len(out), n)
	}
	return out, nil
}
