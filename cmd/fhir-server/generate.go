package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/patient-involvement/fhir-server/fixtures"
	"github.com/patient-involvement/fhir-server/internal/generate"
)

const generateUsage = `usage: fhir-server generate [--patients N] [--seed S] [--out FILE]

Writes made-up QuestionnaireResponses and shared CarePlans answering the built-in
Questionnaires, as NDJSON (to stdout unless --out names a file). The same seed gives the same
data, so loading it again writes nothing new: fhir-server generate | fhir-server load -

flags:`

// runGenerate is `fhir-server generate`.
func runGenerate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fhir-server generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, generateUsage)
		fs.PrintDefaults()
	}
	var opts generate.Options
	var out string
	fs.IntVar(&opts.Patients, "patients", 10, "number of patients")
	fs.Uint64Var(&opts.Seed, "seed", 1, "seed: the same seed gives the same data")
	fs.StringVar(&out, "out", "", "file to write (default: stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("generate: unexpected arguments %v (it writes to stdout or --out)", fs.Args())
	}
	if opts.Patients < 1 {
		return errors.New("generate: --patients must be at least 1")
	}

	w, name := stdout, "stdout"
	var f *os.File
	if out != "" {
		var err error
		if f, err = os.Create(out); err != nil {
			return err
		}
		w, name = f, out
	}
	buf := bufio.NewWriterSize(w, 1<<16)
	st, err := generate.Write(buf, fixtures.FS(), opts)
	if err == nil {
		err = buf.Flush()
	}
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(out)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %d QuestionnaireResponses (%d in progress) and %d CarePlans for %d patients (seed %d) to %s\n",
		st.Responses, st.InProgress, st.CarePlans, st.Patients, opts.Seed, name)
	return nil
}
