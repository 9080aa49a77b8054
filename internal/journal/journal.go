// Package journal holds what the server's fsync'd journals share: lines framed with a
// checksum, so that a line a crash cut short is found and skipped, durable directory
// entries, files written whole, and a group-commit appender, which gives the records that
// arrive together one write and one fsync. The subscription outbox uses all of them; the
// audit trail's journal frames its lines and syncs its directory (it appends with a loop
// of its own, which also starts new files and counts what they hold); the embedded
// database's transaction journal writes its files whole and syncs their directory when it
// removes one.
package journal

import (
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Frame returns the journal line of payload (which holds no newline):
//
//	<crc32c of payload, 8 hex digits> <payload>\n
func Frame(payload []byte) []byte {
	line := make([]byte, 0, len(payload)+10)
	line = fmt.Appendf(line, "%08x ", crc32.Checksum(payload, castagnoli))
	line = append(line, payload...)
	return append(line, '\n')
}

// ErrBadLine is returned by Unframe for a line whose checksum fails or that is cut short.
var ErrBadLine = errors.New("malformed journal line")

// Unframe returns the payload of a journal line (without its newline), checked.
func Unframe(line []byte) ([]byte, error) {
	if len(line) < 10 || line[8] != ' ' {
		return nil, ErrBadLine
	}
	sum, err := strconv.ParseUint(string(line[:8]), 16, 32)
	payload := line[9:]
	if err != nil || uint32(sum) != crc32.Checksum(payload, castagnoli) {
		return nil, ErrBadLine
	}
	return payload, nil
}

// SyncDir makes the entries of dir durable (a file just created or renamed in it).
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync the journal directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync the journal directory: %w", err)
	}
	return nil
}

// WriteFile writes data as the file path durably and whole: first as path+".tmp", synced,
// then renamed over path, with the directory synced, so that path never holds part of it.
// A crash may leave the .tmp file behind.
func WriteFile(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// Appender appends lines to one file durably: Append returns once its line is on disk.
// Appends that arrive while a write and fsync are under way share the next write and
// fsync (group commit), so the cost per line falls as the load rises. It is safe for
// concurrent use.
type Appender struct {
	mu      sync.Mutex
	f       *os.File
	pending []*appendReq
	writing bool
	closed  bool
	// wmu is held by the one goroutine writing batches.
	wmu sync.Mutex
}

type appendReq struct {
	lines [][]byte
	done  chan error
}

// NewAppender appends to f, which must be open for writing at its end.
func NewAppender(f *os.File) *Appender { return &Appender{f: f} }

// ErrClosed is returned by Append once the appender is closed.
var ErrClosed = errors.New("journal: closed")

// Append writes lines (each framed already) in one write, after every line appended
// before, and returns once they are durable. After an error the file may hold part of
// what was appended, which Unframe finds.
func (a *Appender) Append(lines ...[]byte) error {
	req := &appendReq{lines: lines, done: make(chan error, 1)}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return ErrClosed
	}
	a.pending = append(a.pending, req)
	if a.writing {
		a.mu.Unlock()
		return <-req.done
	}
	a.writing = true
	a.wmu.Lock()
	defer a.wmu.Unlock()
	for len(a.pending) > 0 {
		batch := a.pending
		a.pending = nil
		a.mu.Unlock()
		var all []byte
		for _, r := range batch {
			for _, l := range r.lines {
				all = append(all, l...)
			}
		}
		_, err := a.f.Write(all)
		if err == nil {
			err = a.f.Sync()
		}
		for _, r := range batch {
			r.done <- err
		}
		a.mu.Lock()
	}
	a.writing = false
	a.mu.Unlock()
	return <-req.done
}

// Close stops taking appends, waits for the write under way, and closes the file.
func (a *Appender) Close() error {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	a.wmu.Lock()
	defer a.wmu.Unlock()
	return a.f.Close()
}
