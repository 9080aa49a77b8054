package loader

import (
	"bytes"
	"testing"
	"time"
)

func TestProgress(t *testing.T) {
	t.Parallel()
	counts := Counts{Created: 40, Unchanged: 9, Failed: 1}
	tests := []struct {
		name     string
		terminal bool
		total    int64
		want     string
	}{
		{"terminal, size known", true, 1000, "\r\x1b[K[==========          ]  50% 50 resources, 10/s, 1 failed"},
		{"terminal, from stdin", true, -1, "\r\x1b[K50 resources, 10/s, 1 failed"},
		{"log", false, 1000, " 50% 50 resources, 10/s: 40 created, 0 updated, 9 unchanged, 1 failed\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			clock := func() time.Time { return now }
			var out bytes.Buffer
			p := newProgress(&out, tc.terminal, tc.total, clock)
			s := newSummary(1)
			s.Types["CarePlan"] = &counts

			p.update(500, s) // too soon after the start: nothing drawn
			if out.Len() != 0 {
				t.Fatalf("drew before the first interval: %q", out.String())
			}
			now = now.Add(5 * time.Second)
			p.update(500, s)
			if got := out.String(); got != tc.want {
				t.Errorf("drew %q, want %q", out.String(), tc.want)
			}
			if len(out.String()) > 80 {
				t.Errorf("line of %d characters, longer than a terminal", len(out.String()))
			}
		})
	}
}
