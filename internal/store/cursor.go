package store

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// A page cursor names the position a page starts after: the sort values and id of the
// last match of the previous page (or the first match of the following page, for a
// previous link). It is signed with a key kept in the database, so it survives a restart,
// works on every server of a deployment, and cannot be altered or reused for other criteria.

// pagePos is a decoded cursor.
type pagePos struct {
	Keys     []any
	ID       string
	Backward bool
}

// cursorBody is the signed part of a cursor.
type cursorBody struct {
	Q string       `json:"q"` // digest of the search the cursor belongs to
	K []cursorItem `json:"k"`
	I string       `json:"i"`
	B bool         `json:"b,omitempty"`
}

// cursorItem is one sort value with its type.
type cursorItem struct {
	S *string  `json:"s,omitempty"`
	T *int64   `json:"t,omitempty"` // Unix nanoseconds
	F *float64 `json:"f,omitempty"`
}

const settingsCollection = "settings"
const pagingKeyID = "paging-key"

// pagingKey returns the key that signs page cursors, creating it on first use.
func (s *Store) pagingKey(ctx context.Context) ([]byte, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if s.key != nil {
		return s.key, nil
	}
	coll := s.db.Collection(settingsCollection)
	for attempt := 0; attempt < 3; attempt++ {
		var doc struct {
			Key []byte `bson:"key"`
		}
		err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: pagingKeyID}}).Decode(&doc)
		if err == nil && len(doc.Key) == 32 {
			s.key = doc.Key
			return s.key, nil
		}
		if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			return nil, s.wrap(err, "read the paging key")
		}
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		_, err = coll.InsertOne(ctx, bson.D{{Key: "_id", Value: pagingKeyID}, {Key: "key", Value: key}})
		if err == nil {
			s.key = key
			return key, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return nil, s.wrap(err, "store the paging key")
		}
		// another server created it first: read theirs
	}
	return nil, fhir.Errorf(fhir.KindInternal, "the paging key could not be created")
}

// searchDigest identifies the search a cursor belongs to.
func searchDigest(req *search.Request) string {
	h := sha256.New()
	h.Write([]byte(req.Criteria.Type))
	h.Write([]byte{0})
	h.Write([]byte(req.Criteria.Encode()))
	h.Write([]byte{0})
	h.Write([]byte(req.Compartment))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
}

func (s *Store) encodeCursor(ctx context.Context, req *search.Request, keys []any, id string, backward bool) (string, error) {
	key, err := s.pagingKey(ctx)
	if err != nil {
		return "", err
	}
	body := cursorBody{Q: searchDigest(req), I: id, B: backward}
	for _, k := range keys {
		var it cursorItem
		switch v := k.(type) {
		case string:
			it.S = &v
		case time.Time:
			n := v.UnixNano()
			it.T = &n
		case float64:
			it.F = &v
		}
		body.K = append(body.K, it)
	}
	data, err := json.Marshal(body)
	if err != nil {
		return "", s.wrap(err, "encode a page cursor")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(data)
	return base64.RawURLEncoding.EncodeToString(data) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}

// errBadCursor is the error for a cursor this server did not issue for this search.
func errBadCursor() error {
	return fhir.Errorf(fhir.KindInvalid, "The paging link is not valid for this search (it was changed, or belongs to another search): follow the links exactly as given, or start the search again").At("_cursor")
}

func (s *Store) decodeCursor(ctx context.Context, req *search.Request, nFields int) (*pagePos, error) {
	key, err := s.pagingKey(ctx)
	if err != nil {
		return nil, err
	}
	data64, sig64, ok := strings.Cut(req.Cursor, ".")
	if !ok || len(req.Cursor) > 4096 {
		return nil, errBadCursor()
	}
	data, err1 := base64.RawURLEncoding.DecodeString(data64)
	sig, err2 := base64.RawURLEncoding.DecodeString(sig64)
	if err1 != nil || err2 != nil {
		return nil, errBadCursor()
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(data)
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return nil, errBadCursor()
	}
	var body cursorBody
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Q != searchDigest(req) || !fhir.ValidID(body.I) || len(body.K) != nFields-1 {
		return nil, errBadCursor()
	}
	pos := &pagePos{ID: body.I, Backward: body.B}
	for _, it := range body.K {
		switch {
		case it.S != nil:
			pos.Keys = append(pos.Keys, *it.S)
		case it.T != nil:
			pos.Keys = append(pos.Keys, time.Unix(0, *it.T).UTC())
		case it.F != nil && !math.IsNaN(*it.F):
			pos.Keys = append(pos.Keys, *it.F)
		default:
			pos.Keys = append(pos.Keys, nil)
		}
	}
	return pos, nil
}
