package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/patient-involvement/fhir-server/internal/journal"
)

// The journal is a directory of append-only files, audit-<sequence>.log, each a series of
// lines, one per event:
//
//	<crc32c of the rest, 8 hex digits> <record time, Unix nanoseconds> <event id> <event JSON>\n
//
// The checksum finds a line that a crash cut short (the last of a file, written but not
// synced when the process or the machine died): such a line belongs to a request that was
// never answered, and is skipped.

const (
	segmentPrefix = "audit-"
	segmentSuffix = ".log"
	lockFile      = "journal.lock"
)

func segmentName(seq uint64) string {
	return fmt.Sprintf("%s%020d%s", segmentPrefix, seq, segmentSuffix)
}

// encodeLine is the journal line of one event.
func encodeLine(at time.Time, id string, event []byte) []byte {
	payload := make([]byte, 0, len(event)+len(id)+32)
	payload = strconv.AppendInt(payload, at.UnixNano(), 10)
	payload = append(payload, ' ')
	payload = append(payload, id...)
	payload = append(payload, ' ')
	payload = append(payload, event...)
	return journal.Frame(payload)
}

var errBadLine = journal.ErrBadLine

// decodeLine reads a journal line without its newline. The event's JSON is part of line,
// not a copy: readLines reads each chunk into a buffer of its own, which nothing reuses.
func decodeLine(line []byte) (time.Time, Event, error) {
	payload, err := journal.Unframe(line)
	if err != nil {
		return time.Time{}, Event{}, err
	}
	ts, rest, ok := bytes.Cut(payload, []byte{' '})
	if !ok {
		return time.Time{}, Event{}, errBadLine
	}
	id, js, ok := bytes.Cut(rest, []byte{' '})
	nanos, err := strconv.ParseInt(string(ts), 10, 64)
	if !ok || err != nil || len(id) == 0 || len(js) == 0 {
		return time.Time{}, Event{}, errBadLine
	}
	return time.Unix(0, nanos), Event{ID: string(id), JSON: js}, nil
}

// lineEvent is an event read from the journal with the time of its record.
type lineEvent struct {
	Event
	at time.Time
}

// readLines reads the whole lines of f between the offsets from and to, about chunk bytes of
// them (more when one line is longer), and returns their events and the offset after the
// last line read. In a sealed file, bytes at the end without a newline are a line a crash
// cut short: they are skipped, and so is any line whose checksum fails.
func readLines(f *os.File, from, to int64, chunk int, sealed bool, log *slog.Logger, path string) ([]lineEvent, int64, error) {
	for {
		n := min(int64(chunk), to-from)
		buf := make([]byte, n)
		if _, err := f.ReadAt(buf, from); err != nil && !errors.Is(err, io.EOF) {
			return nil, from, err
		}
		end := bytes.LastIndexByte(buf, '\n')
		if end < 0 {
			if from+n < to {
				chunk *= 2 // one line longer than the chunk
				continue
			}
			if sealed {
				log.Warn("audit: skipping the unfinished last line of a journal file (written when the process stopped, never answered)",
					"file", path, "bytes", n)
			}
			return nil, to, nil
		}
		var out []lineEvent
		for _, line := range bytes.Split(buf[:end], []byte{'\n'}) {
			at, ev, err := decodeLine(line)
			if err != nil {
				log.Warn("audit: skipping a damaged journal line", "file", path, "bytes", len(line))
				continue
			}
			out = append(out, lineEvent{Event: ev, at: at})
		}
		next := from + int64(end) + 1
		if sealed && next < to && from+n == to {
			// The rest of a sealed file after its last newline is a cut-short line.
			log.Warn("audit: skipping the unfinished last line of a journal file (written when the process stopped, never answered)",
				"file", path, "bytes", to-next)
			next = to
		}
		return out, next, nil
	}
}

// listSegments returns the journal files in dir, oldest first, as sealed segments.
func listSegments(dir string) ([]*segment, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("audit: read the journal directory: %w", err)
	}
	var out []*segment
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, segmentPrefix) || !strings.HasSuffix(name, segmentSuffix) {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, segmentPrefix), segmentSuffix), 10, 64)
		if err != nil {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("audit: read the journal directory: %w", err)
		}
		out = append(out, &segment{seq: seq, path: filepath.Join(dir, name), size: info.Size(), sealed: true})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out, nil
}

// syncDir makes the entries of dir durable (a file just created in it).
func syncDir(dir string) error {
	if err := journal.SyncDir(dir); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}
