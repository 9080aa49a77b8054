package loader

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Input is one file to load: a JSON resource or Bundle, or NDJSON with one resource (or
// Bundle) on each line.
type Input struct {
	// Name is how reports refer to the file.
	Name string
	// Open opens the file's contents.
	Open func() (io.ReadCloser, error)
	// Size is the length in bytes, for the progress display; 0 when unknown.
	Size int64
	// NDJSON marks newline-delimited JSON.
	NDJSON bool
}

// Stdin is the command-line name of standard input: NDJSON, as `fhir-server generate` writes.
const Stdin = "-"

// Paths returns the inputs named on a command line: a file as it is (NDJSON when it ends in
// .ndjson or .jsonl, JSON otherwise); a folder as every *.json and *.ndjson file beneath it,
// recursively and in lexical order, leaving out hidden files and folders; and "-" as NDJSON
// read from stdin. A path that does not exist is an error, so nothing is loaded.
func Paths(paths []string, stdin io.Reader) ([]Input, error) {
	var inputs []Input
	var errs []error
	for _, p := range paths {
		if p == Stdin {
			inputs = append(inputs, Input{Name: "(stdin)", NDJSON: true, Open: func() (io.ReadCloser, error) {
				return io.NopCloser(stdin), nil
			}})
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !fi.IsDir() {
			inputs = append(inputs, fileInput(p, fi.Size()))
			continue
		}
		found, err := FSInputs(os.DirFS(p), ".", p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(found) == 0 {
			errs = append(errs, fmt.Errorf("%s: no *.json or *.ndjson files in this folder", p))
		}
		for i := range found {
			found[i].Name = filepath.FromSlash(found[i].Name)
		}
		inputs = append(inputs, found...)
	}
	return inputs, errors.Join(errs...)
}

func fileInput(name string, size int64) Input {
	ext := strings.ToLower(filepath.Ext(name))
	return Input{
		Name: name, Size: size, NDJSON: ext == ".ndjson" || ext == ".jsonl",
		Open: func() (io.ReadCloser, error) { return os.Open(name) },
	}
}

// FSInputs returns every *.json and *.ndjson file under root in fsys, recursively and in
// lexical order, leaving out hidden files and folders. Each Input's Name is its path joined
// to prefix.
func FSInputs(fsys fs.FS, root, prefix string) ([]Input, error) {
	var inputs []Input
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		ext := strings.ToLower(path.Ext(p))
		if d.IsDir() || (ext != ".json" && ext != ".ndjson") {
			return nil
		}
		var size int64
		if info, err := d.Info(); err == nil {
			size = info.Size()
		}
		inputs = append(inputs, Input{
			Name: path.Join(prefix, p), Size: size, NDJSON: ext == ".ndjson",
			Open: func() (io.ReadCloser, error) { return fsys.Open(p) },
		})
		return nil
	})
	return inputs, err
}

// item is one resource to write, or a part of a file that could not be read as one (err set).
type item struct {
	seq      int
	source   string // file, with "#entry[i]" for a Bundle entry and ":line" for NDJSON
	typ      string
	id       string     // the id it is written under; "" when criteria find it
	criteria url.Values // the criteria of its conditional create, when it has no id
	body     []byte
	size     int64 // its share of the input's bytes, for progress
	err      error
	// transaction is a transaction Bundle sent whole (body is the Bundle): its entries'
	// types and methods, in order.
	transaction []txEntry
}

// txEntry is what the loader counts of one entry of a transaction.
type txEntry struct{ typ, method string }

// key names the item's resource within a load: its id or its criteria.
func (it *item) key() string { return identity{id: it.id, criteria: it.criteria}.key() }

// label names the item's resource in messages: Type/id, or Type?criteria.
func (it *item) label() string {
	if it.criteria == nil {
		return it.typ + "/" + it.id
	}
	q := it.criteria.Encode()
	if u, err := url.QueryUnescape(q); err == nil {
		q = u
	}
	return it.typ + "?" + q
}

// splitter reads inputs into items, numbering them in reading order.
type splitter struct {
	seq  int
	emit func(item) bool // false: stop reading
	// transactions keeps transaction Bundles whole, to be sent as transactions.
	transactions bool
}

// read splits one input; it returns false when emit asked to stop.
func (s *splitter) read(in Input) bool {
	rc, err := in.Open()
	if err != nil {
		return s.fail(in.Name, in.Size, err)
	}
	defer rc.Close()
	if !in.NDJSON {
		data, err := io.ReadAll(rc)
		if err != nil {
			return s.fail(in.Name, in.Size, err)
		}
		return s.document(in.Name, data, max(in.Size, int64(len(data))))
	}
	br := bufio.NewReaderSize(rc, 1<<20)
	for line := 1; ; line++ {
		data, err := br.ReadBytes('\n')
		if doc := bytes.TrimSpace(data); len(doc) > 0 {
			if !s.document(fmt.Sprintf("%s:%d", in.Name, line), doc, int64(len(data))) {
				return false
			}
		}
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return s.fail(fmt.Sprintf("%s:%d", in.Name, line), 0, err)
		}
	}
}

// document splits one JSON document: a Bundle into its entries' resources, anything else
// into itself.
func (s *splitter) document(source string, data []byte, size int64) bool {
	var h head
	if err := json.Unmarshal(data, &h); err != nil {
		return s.fail(source, size, fmt.Errorf("not a JSON object: %s", jsonError(data, err)))
	}
	if h.ResourceType != "Bundle" {
		return s.resource(source, "", data, &h, size)
	}
	var b struct {
		Type  string `json:"type"`
		Entry []struct {
			FullURL  string          `json:"fullUrl"`
			Resource json.RawMessage `json:"resource"`
			Request  struct {
				Method string `json:"method"`
				URL    string `json:"url"`
			} `json:"request"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return s.fail(source, size, fmt.Errorf("not a valid Bundle: %v", err))
	}
	if len(b.Entry) == 0 {
		return s.fail(source, size, errors.New("the Bundle has no entries"))
	}
	if b.Type == "transaction" && s.transactions {
		// All or nothing, as its author meant: sent whole.
		it := item{source: source, typ: "Bundle", body: data, size: size}
		for _, e := range b.Entry {
			var eh head
			_ = json.Unmarshal(e.Resource, &eh)
			typ := eh.ResourceType
			if typ == "" {
				typ, _, _ = strings.Cut(strings.SplitN(e.Request.URL, "?", 2)[0], "/")
			}
			it.transaction = append(it.transaction, txEntry{typ: typ, method: strings.ToUpper(e.Request.Method)})
		}
		return s.next(it)
	}
	share := size / int64(len(b.Entry))
	for i, e := range b.Entry {
		part := share
		if i == len(b.Entry)-1 {
			part = size - share*int64(len(b.Entry)-1)
		}
		src := fmt.Sprintf("%s#entry[%d]", source, i)
		if len(e.Resource) == 0 || string(e.Resource) == "null" {
			if !s.fail(src, part, errors.New("the entry has no resource (a request-only entry such as a DELETE): nothing to load")) {
				return false
			}
			continue
		}
		var eh head
		if err := json.Unmarshal(e.Resource, &eh); err != nil {
			if !s.fail(src, part, fmt.Errorf("entry.resource is not a JSON object: %v", err)) {
				return false
			}
			continue
		}
		if !s.resource(src, e.FullURL, e.Resource, &eh, part) {
			return false
		}
	}
	return true
}

func (s *splitter) resource(source, fullURL string, data []byte, h *head, size int64) bool {
	if h.ResourceType == "" {
		return s.fail(source, size, errors.New("the resource has no resourceType"))
	}
	it := item{source: source, typ: h.ResourceType, body: bytes.TrimSpace(data), size: size}
	ident, err := stableID(h, fullURL)
	if err == nil && ident.added {
		it.body, err = withID(it.body, ident.id)
	}
	it.id, it.criteria, it.err = ident.id, ident.criteria, err
	return s.next(it)
}

func (s *splitter) fail(source string, size int64, err error) bool {
	return s.next(item{source: source, size: size, err: err})
}

func (s *splitter) next(it item) bool {
	it.seq = s.seq
	s.seq++
	return s.emit(it)
}

// jsonError says where a syntax error is: the line and column of the offending byte, or only
// the column in a document on one line (NDJSON).
func jsonError(data []byte, err error) string {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return err.Error()
	}
	if !bytes.ContainsRune(data, '\n') {
		return fmt.Sprintf("%v (column %d)", err, se.Offset)
	}
	line, col := 1, 0
	for _, c := range data[:min(int(se.Offset), len(data))] {
		if c == '\n' {
			line, col = line+1, 0
		} else {
			col++
		}
	}
	return fmt.Sprintf("%v (line %d, column %d)", err, line, col)
}
