package client

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzAnswers feeds one server answer to every decoder of answers: the
// typed results, the token answer and the error answer. None may panic; a
// typed result that decodes keeps the object as sent in Raw, and an error
// never echoes the body beyond its code and description.
func FuzzAnswers(f *testing.F) {
	for _, s := range []string{
		`{"username":"alice","fullName":"Alice","email":"a@x","admin":true,"department":"x"}`,
		`{"items":[{"username":"bob","admin":"yes"}],"nextPageToken":"p2"}`,
		`{"name":"acme","users":3,"serverTime":"2026-03-01T09:00:00Z"}`,
		`{"apiVersion":"v1","product":"p","version":"1.0"}`,
		`{"id":"d1","owner":"alice","copies":2,"duplex":true,"size":13,"sha256":"ab","submittedAt":"2026-03-01T09:00:00Z"}`,
		`{"token":{"access_token":"A","refresh_token":"R","expires_in":"3600"}}`,
		`{"error":{"code":"invalid_grant","message":"m"}}`, `{"error":"slow_down","error_description":"d"}`,
		`[1,2]`, `null`, `"x"`, `{"users":"3"}`, `{`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		var u User
		if json.Unmarshal(body, &u) == nil && u.Raw != nil && !bytes.Equal(u.Raw, bytes.TrimSpace(body)) {
			t.Errorf("User.Raw %q, want the object as sent %q", u.Raw, body)
		}
		var a Account
		_ = json.Unmarshal(body, &a)
		var v Version
		_ = json.Unmarshal(body, &v)
		var d Document
		if json.Unmarshal(body, &d) == nil && d.Raw != nil && !bytes.Equal(d.Raw, bytes.TrimSpace(body)) {
			t.Errorf("Document.Raw %q, want %q", d.Raw, body)
		}
		var page itemsAnswer[Document]
		_ = json.Unmarshal(body, &page)
		if tok, err := parseToken(body, now); err == nil && tok.AccessToken == "" {
			t.Error("a token without an access token was accepted")
		}
		e := newAPIError(&http.Response{StatusCode: 400, Header: http.Header{}}, body, now)
		_ = e.Error()
	})
}

// FuzzFileStore reads whatever a FileStore's file holds: Load and
// LoadDevice fail or succeed, never panic, and a key they return is whole.
func FuzzFileStore(f *testing.F) {
	f.Add([]byte(`{"device_id":"d","device_key":"ed25519:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","token":{"access_token":"A"}}`))
	f.Add([]byte(`{"token":{"access_token":"A","expiry":"2026-03-01T09:00:00Z"}}`))
	f.Add([]byte(`{"device_id":"d","device_key":"not base64"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, content []byte) {
		path := filepath.Join(t.TempDir(), "store.json")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		s := FileStore{Path: path}
		_, _ = s.Load()
		if id, key, err := s.LoadDevice(); err == nil && key != nil && (id == "" || len(key) != 64) {
			t.Errorf("device %q with a %d-byte key", id, len(key))
		}
	})
}
