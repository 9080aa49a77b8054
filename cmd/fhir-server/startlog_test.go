package main

import (
	"bufio"
	"context"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The start-up log says how many resources are stored and, on an embedded database that
// holds more than it searches in about a second, that MongoDB is the way to search them.
func TestStartLogCountsStoredResources(t *testing.T) {
	tests := []struct {
		name      string
		responses int
		advice    bool
	}{
		{"small", 20, false},
		{"past the search advice", scanAdvice + 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			seedDataDir(t, dir, tc.responses)
			logs := &syncBuffer{}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out, w := io.Pipe()
			env := map[string]string{"FHIR_DATA_DIR": dir, "FHIR_ADDR": "127.0.0.1:0"}
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, []string{"serve"}, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, w, logs)
				_ = w.Close()
			}()
			sc := bufio.NewScanner(out)
			for sc.Scan() && !strings.Contains(sc.Text(), "ready at") {
			}
			go func() { _, _ = io.Copy(io.Discard, out) }()
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			text := logs.String()
			if !regexp.MustCompile(`msg="stored resources" total=` + itoa(tc.responses) + `\b.*QuestionnaireResponse=` + itoa(tc.responses)).MatchString(text) {
				t.Errorf("the log does not count %d stored responses:\n%s", tc.responses, text)
			}
			if got := strings.Contains(text, "use MongoDB (set MONGODB_URI)"); got != tc.advice {
				t.Errorf("MongoDB advice in the log: %v, want %v:\n%s", got, tc.advice, text)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
