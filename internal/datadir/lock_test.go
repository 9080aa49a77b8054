package datadir

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestOneHolderAtATime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := Acquire(dir, "serve")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, command string
	}{
		{"a second server", "serve"},
		{"a load straight into the database", "load"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Acquire(dir, tc.command)
			var inUse *InUseError
			if !errors.As(err, &inUse) {
				t.Fatalf("Acquire while held: %v, want *InUseError", err)
			}
			if inUse.PID != os.Getpid() || inUse.Command != "serve" {
				t.Errorf("holder %d %q, want %d serve", inUse.PID, inUse.Command, os.Getpid())
			}
			for _, want := range []string{dir, "process " + strconv.Itoa(os.Getpid()) + " (fhir-server serve)", "load --url"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q does not say %q", err, want)
				}
			}
		})
	}
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	again, err := Acquire(dir, "load")
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	if err := again.Release(); err != nil {
		t.Fatal(err)
	}
}
