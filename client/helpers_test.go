package client

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
)

const (
	testBase = "https://paragon.test"
	testKey  = "test-api-key"
)

// fakeClock is a settable clock for tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// sleepRecorder records requested waits and returns at once.
type sleepRecorder struct {
	mu     sync.Mutex
	waits  []time.Duration
	before func(n int) // called with the wait's index, may cancel
}

func (s *sleepRecorder) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	n := len(s.waits)
	s.mu.Unlock()
	if s.before != nil {
		s.before(n)
	}
	return ctx.Err()
}

// newMockClient returns a Client whose HTTP traffic goes to an httpmock
// transport; every registered responder must be called by the end of the
// test.
func newMockClient(t *testing.T, clk *fakeClock, sleep *sleepRecorder) (*Client, *httpmock.MockTransport) {
	t.Helper()
	mt := httpmock.NewMockTransport()
	cfg := Config{BaseURL: testBase, APIKey: testKey, HTTPClient: &http.Client{Transport: mt}}
	if clk != nil {
		cfg.Now = clk.Now
	}
	if sleep != nil {
		cfg.Sleep = sleep.Sleep
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, mt
}

// readForm reads a form body from req, failing the test on error.
func readForm(t *testing.T, req *http.Request) ([]byte, url.Values) {
	t.Helper()
	b, err := io.ReadAll(req.Body)
	if err != nil {
		t.Errorf("reading body: %v", err)
	}
	v, err := url.ParseQuery(string(b))
	if err != nil {
		t.Errorf("parsing form: %v", err)
	}
	return b, v
}

// verifySig reports whether req's HCP-Request-Signature verifies over body
// with pub.
func verifySig(req *http.Request, body []byte, pub ed25519.PublicKey) bool {
	sig, err := base64.StdEncoding.DecodeString(req.Header.Get(SignatureHeader))
	return err == nil && ed25519.Verify(pub, body, sig)
}

func jsonResp(status int, body string) *http.Response {
	r := httpmock.NewStringResponse(status, body)
	r.Header.Set("Content-Type", "application/json")
	return r
}

func oauthErr(code string) *http.Response {
	return jsonResp(400, `{"error":"`+code+`","error_description":"test says `+code+`"}`)
}

func tokenJSON(access, refresh string) string {
	return `{"token_type":"Bearer","expires_in":3600,"access_token":"` + access + `","refresh_token":"` + refresh + `"}`
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if sub != "" && strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// funcStore is a TokenStore made of functions, for tests: a nil lock does
// nothing, a nil load finds nothing stored, a nil save succeeds.
type funcStore struct {
	lock func(context.Context) (func(), error)
	load func() (*Token, error)
	save func(*Token) error
}

func (f funcStore) Lock(ctx context.Context) (func(), error) {
	if f.lock == nil {
		return func() {}, nil
	}
	return f.lock(ctx)
}

func (f funcStore) Load() (*Token, error) {
	if f.load == nil {
		return nil, nil
	}
	return f.load()
}

func (f funcStore) Save(t *Token) error {
	if f.save == nil {
		return nil
	}
	return f.save(t)
}
