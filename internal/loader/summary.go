package loader

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Counts are the outcomes of loading the resources of one type.
type Counts struct {
	Created, Updated, Unchanged, Failed int
}

// Total is the number of resources counted.
func (c Counts) Total() int { return c.Created + c.Updated + c.Unchanged + c.Failed }

func (c *Counts) add(o Outcome) {
	switch o {
	case Created:
		c.Created++
	case Updated:
		c.Updated++
	case Unchanged:
		c.Unchanged++
	default:
		c.Failed++
	}
}

// unknownType is the row of failures whose resource type could not be read.
const unknownType = "(unreadable)"

// Summary is what a load did.
type Summary struct {
	// Types holds the counts per resource type.
	Types map[string]*Counts
	// Failures lists what was not loaded, in the order of the files.
	Failures []Failure
	// Files is the number of files read.
	Files int
	// Elapsed is how long the load took.
	Elapsed time.Duration
}

func newSummary(files int) *Summary {
	return &Summary{Types: map[string]*Counts{}, Files: files}
}

func (s *Summary) add(r result) {
	typ := r.typ
	if typ == "" {
		typ = unknownType
	}
	c := s.Types[typ]
	if c == nil {
		c = &Counts{}
		s.Types[typ] = c
	}
	c.add(r.outcome)
	if r.outcome == Failed {
		s.Failures = append(s.Failures, Failure{Source: r.source, Type: r.typ, ID: r.id, Err: r.err, seq: r.seq})
	}
}

// Total adds up the counts of every type.
func (s *Summary) Total() Counts {
	var t Counts
	for _, c := range s.Types {
		t.Created += c.Created
		t.Updated += c.Updated
		t.Unchanged += c.Unchanged
		t.Failed += c.Failed
	}
	return t
}

// Write prints the summary as a table, one row per type and a total.
func (s *Summary) Write(w io.Writer) error {
	total := s.Total()
	rate := ""
	if secs := s.Elapsed.Seconds(); secs > 0 && total.Total() > 0 {
		rate = fmt.Sprintf(", %.0f/s", float64(total.Total())/secs)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s from %s in %s%s\n", plural(total.Total(), "resource"), plural(s.Files, "file"), s.Elapsed.Round(time.Millisecond), rate)
	types := make([]string, 0, len(s.Types))
	width := len("total")
	for t := range s.Types {
		types = append(types, t)
		width = max(width, len(t))
	}
	sort.Strings(types)
	row := func(name string, c Counts) {
		fmt.Fprintf(&b, "  %-*s %9d %9d %9d %9d\n", width, name, c.Created, c.Updated, c.Unchanged, c.Failed)
	}
	fmt.Fprintf(&b, "  %-*s %9s %9s %9s %9s\n", width, "type", "created", "updated", "unchanged", "failed")
	for _, t := range types {
		row(t, *s.Types[t])
	}
	if len(types) > 1 {
		row("total", total)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
