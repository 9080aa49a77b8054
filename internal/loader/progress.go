package loader

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// How often the progress display is redrawn.
const (
	barInterval   = 100 * time.Millisecond
	lineInterval  = 5 * time.Second
	barWidth      = 20
	clearLineANSI = "\r\x1b[K"
)

// progress shows how far a load is: a bar redrawn in place on a terminal, a plain line every
// few seconds elsewhere (a log file, CI).
type progress struct {
	w        io.Writer
	terminal bool
	total    int64 // bytes; -1 when unknown
	now      func() time.Time
	start    time.Time
	last     time.Time
	drawn    bool
}

func newProgress(w io.Writer, terminal bool, total int64, now func() time.Time) *progress {
	t := now()
	return &progress{w: w, terminal: terminal, total: total, now: now, start: t, last: t}
}

func (p *progress) update(done int64, s *Summary) {
	if p.w == nil {
		return
	}
	t := p.now()
	interval := lineInterval
	if p.terminal {
		interval = barInterval
	}
	if t.Sub(p.last) < interval {
		return
	}
	p.last = t
	line := p.line(done, s.Total(), t.Sub(p.start))
	if p.terminal {
		fmt.Fprint(p.w, clearLineANSI+line)
		p.drawn = true
		return
	}
	fmt.Fprintln(p.w, line)
}

// line renders the state: on a terminal a bar, the percentage, the count, the rate and the
// failures, short enough for an 80-column line; elsewhere the percentage and every count.
func (p *progress) line(done int64, c Counts, elapsed time.Duration) string {
	var b strings.Builder
	if p.total > 0 {
		frac := min(float64(done)/float64(p.total), 1)
		if p.terminal {
			full := int(frac * barWidth)
			b.WriteString("[" + strings.Repeat("=", full) + strings.Repeat(" ", barWidth-full) + "] ")
		}
		fmt.Fprintf(&b, "%3.0f%% ", frac*100)
	}
	fmt.Fprintf(&b, "%d resources", c.Total())
	if secs := elapsed.Seconds(); secs > 0 {
		fmt.Fprintf(&b, ", %.0f/s", float64(c.Total())/secs)
	}
	if p.terminal {
		if c.Failed > 0 {
			fmt.Fprintf(&b, ", %d failed", c.Failed)
		}
		return b.String()
	}
	fmt.Fprintf(&b, ": %d created, %d updated, %d unchanged, %d failed", c.Created, c.Updated, c.Unchanged, c.Failed)
	return b.String()
}

// finish removes the bar, so that the summary starts on a clean line.
func (p *progress) finish() {
	if p.w != nil && p.drawn {
		fmt.Fprint(p.w, clearLineANSI)
	}
}
