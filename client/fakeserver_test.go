package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// miniServer is a small strict server for concurrency tests and benchmarks:
// one user token at a time, refresh tokens rotate and work once, an API call
// needs the current access token.
type miniServer struct {
	mu        sync.Mutex
	gen       int
	access    string
	refresh   string
	refreshes int
	calls     int
	ttl       time.Duration
}

func newMiniServer(t testing.TB) (*miniServer, *httptest.Server) {
	m := &miniServer{access: "A0", refresh: "R0", ttl: time.Hour}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/v1/token", m.token)
	mux.HandleFunc("GET /api/v1/version", m.version)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return m, ts
}

func (m *miniServer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("client_id") != "api" || r.PostForm.Get("client_secret") != testKey {
		w.WriteHeader(400)
		fmt.Fprint(w, `{"error":"invalid_request"}`)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.PostForm.Get("refresh_token") != m.refresh {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		fmt.Fprint(w, `{"error":"invalid_grant"}`)
		return
	}
	m.refreshes++
	m.gen++
	m.access, m.refresh = fmt.Sprintf("A%d", m.gen), fmt.Sprintf("R%d", m.gen)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": m.access, "refresh_token": m.refresh,
		"token_type": "Bearer", "expires_in": int(m.ttl.Seconds())})
}

func (m *miniServer) version(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if r.Header.Get("X-Api-Key") != testKey {
		w.WriteHeader(403)
		fmt.Fprint(w, `{"error":"invalid_api_key"}`)
		return
	}
	if strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") != m.access {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(401)
		fmt.Fprint(w, `{"error":"invalid_token"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"version":"1.0.0-mini"}`)
}

func (m *miniServer) counts() (refreshes, calls int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.refreshes, m.calls
}

// expire makes the current access token unknown to the server (as after
// its expiry) without the client knowing.
func (m *miniServer) expire() {
	m.mu.Lock()
	m.access = "expired-" + m.access
	m.mu.Unlock()
}
