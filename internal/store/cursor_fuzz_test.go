package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// FuzzCursor feeds arbitrary page cursors to the decoder, both as a client may send them and
// signed with the server's key (so that what is inside is decoded too): it never panics,
// refuses only with 400, and a cursor it accepts encodes again to one that decodes to the
// same position.
//
//	go test -run XXX -fuzz FuzzCursor -fuzztime 30s ./internal/store/
func FuzzCursor(f *testing.F) {
	key := make([]byte, 32)
	s := &Store{key: key} // the paging key is set: no database is asked
	q, _ := url.ParseQuery("status=completed&_sort=-authored,_lastUpdated")
	c, _, err := search.Parse("QuestionnaireResponse", q, search.Options{DefaultCount: 20})
	if err != nil {
		f.Fatal(err)
	}
	req := &search.Request{Criteria: c}
	const nFields = 3 // two sort keys and the id
	ctx := context.Background()
	for _, keys := range [][]any{
		{"2026-03-14", time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)},
		{nil, time.Unix(0, 0).UTC()},
		{1.5, "x"},
	} {
		cur, err := s.encodeCursor(ctx, req, keys, "qr-1", false)
		if err != nil {
			f.Fatal(err)
		}
		data, _ := base64.RawURLEncoding.DecodeString(cur[:len(cur)-44])
		f.Add(cur, data)
	}
	f.Add("", []byte(`{}`))
	f.Add("a.b", []byte(`{"q":"","i":"..","k":[{"f":1e309}]}`))
	sign := func(data []byte) string {
		mac := hmac.New(sha256.New, key)
		mac.Write(data)
		return base64.RawURLEncoding.EncodeToString(data) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}
	f.Fuzz(func(t *testing.T, cursor string, body []byte) {
		for _, cur := range []string{cursor, sign(body)} {
			r := *req
			r.Cursor = cur
			pos, err := s.decodeCursor(ctx, &r, nFields)
			if err != nil {
				if fhir.ErrorKind(err) != fhir.KindInvalid {
					t.Fatalf("error of kind %d: %v", fhir.ErrorKind(err), err)
				}
				continue
			}
			if len(pos.Keys) != nFields-1 || !fhir.ValidID(pos.ID) {
				t.Fatalf("accepted a position with %d keys and id %q", len(pos.Keys), pos.ID)
			}
			again, err := s.encodeCursor(ctx, req, pos.Keys, pos.ID, pos.Backward)
			if err != nil {
				t.Fatal(err)
			}
			r.Cursor = again
			pos2, err := s.decodeCursor(ctx, &r, nFields)
			if err != nil || !reflect.DeepEqual(pos, pos2) {
				t.Fatalf("a cursor encoded from an accepted position decodes differently (%v): %#v %#v", err, pos, pos2)
			}
		}
	})
}
