// Package datadir guards a data directory: the embedded database in it is opened by one
// process at a time, and a second one is told which process holds it and what to do instead.
package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gofrs/flock"
)

// LockFile and PIDFile are the files kept in the data directory while a process holds it:
// the lock itself (an advisory file lock the operating system releases when the process
// ends, however it ends), and beside it the holder's process id and command.
const (
	LockFile = "fhir-server.lock"
	PIDFile  = "fhir-server.pid"
)

// Lock is a held data directory. Release it when the database is closed.
type Lock struct {
	fl  *flock.Flock
	pid string
}

// InUseError says that another process holds the data directory.
type InUseError struct {
	// Dir is the data directory.
	Dir string
	// PID is the holder's process id, 0 when it did not say; Command what it runs (serve, load).
	PID     int
	Command string
}

// Error implements error, saying what to do instead.
func (e *InUseError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who = fmt.Sprintf("process %d", e.PID)
		if e.Command != "" {
			who += fmt.Sprintf(" (fhir-server %s)", e.Command)
		}
	}
	return fmt.Sprintf("the data directory %s is in use by %s: its embedded database is opened by one process at a time. "+
		"Stop that process first; or, to load files into the server it runs, send them over HTTP: "+
		"fhir-server load --url http://localhost:8080/fhir --token \"$TOKEN\" PATH…", e.Dir, who)
}

// Acquire takes the lock of dir (created if absent) for the running process, which runs
// command, or fails with *InUseError when another process holds it.
func Acquire(dir, command string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	fl := flock.New(filepath.Join(dir, LockFile))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock the data directory %s: %w", dir, err)
	}
	if !ok {
		e := &InUseError{Dir: dir}
		if b, err := os.ReadFile(filepath.Join(dir, PIDFile)); err == nil {
			fields := strings.Fields(string(b))
			if len(fields) > 0 {
				e.PID, _ = strconv.Atoi(fields[0])
			}
			if len(fields) > 1 {
				e.Command = fields[1]
			}
		}
		return nil, e
	}
	l := &Lock{fl: fl, pid: filepath.Join(dir, PIDFile)}
	if err := os.WriteFile(l.pid, fmt.Appendf(nil, "%d %s\n", os.Getpid(), command), 0o600); err != nil {
		_ = fl.Unlock()
		return nil, fmt.Errorf("write %s: %w", l.pid, err)
	}
	return l, nil
}

// Release gives the data directory up.
func (l *Lock) Release() error {
	err := os.Remove(l.pid)
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	return errors.Join(err, l.fl.Unlock())
}
