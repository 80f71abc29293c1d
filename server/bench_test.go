package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkVersion is an authorized GET /api/v1/version (Host, key and user
// token checked), without a request log.
func BenchmarkVersion(b *testing.B) {
	benchVersion(b, nil)
}

// BenchmarkVersionLogged is BenchmarkVersion with the request log line that
// `paragon server --log-format json` writes (to io.Discard here).
func BenchmarkVersionLogged(b *testing.B) {
	benchVersion(b, slog.New(slog.NewJSONHandler(io.Discard, nil)))
}

func benchVersion(b *testing.B, log *slog.Logger) {
	// The Host check is on, as in `paragon server` on a loopback address
	// (example.com is the Host of the login helper's requests).
	s := newTestServer(b, withKey(func(k *Key) { k.AllowUntrusted = true }), func(o *Options) {
		o.Logger, o.CheckHost, o.AllowedHosts = log, true, []string{"example.com"}
	})
	at, _ := userToken(b, s, "", "alice", "wonderland")
	r := httptest.NewRequest("GET", "/api/v1/version", nil)
	r.Host = "127.0.0.1:7300"
	r.Header.Set("X-Api-Key", testKey)
	r.Header.Set("Authorization", "Bearer "+at)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkRefresh rotates a user's refresh token again and again.
func BenchmarkRefresh(b *testing.B) {
	s := newTestServer(b, withKey(func(k *Key) { k.AllowUntrusted = true }))
	_, rt := userToken(b, s, "", "alice", "wonderland")
	b.ReportAllocs()
	for b.Loop() {
		r := refresh(b, s, "api", rt)
		if r.Code != http.StatusOK {
			b.Fatal(r.Code, string(r.Body))
		}
		rt = r.json(b)["refresh_token"].(string)
	}
}

// BenchmarkLogin is a password login at bcrypt.MinCost, with a device token.
func BenchmarkLogin(b *testing.B) {
	s := newTestServer(b)
	dt, _ := trustedDevice(b, s, newTestDevice("bench"))
	body := pw("alice", "wonderland").Encode()
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("POST", "/api/v1/login", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("X-Api-Key", testKey)
		r.Header.Set("Authorization", "Bearer "+dt)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}
