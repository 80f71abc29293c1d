package tokenstore

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const testAPIKey = "test-key"

// rotationServer is a strict OAuth refresh endpoint and one API function:
// every refresh token works once; presenting a spent one revokes the whole
// family (everyone is logged out) and answers invalid_grant. It counts
// refreshes. /barrier?n=N holds each caller until N callers have arrived,
// so that child processes start their work together.
type rotationServer struct {
	*httptest.Server
	mu        sync.Mutex
	gen       int                  // generation of the live pair
	live      string               // the one refresh token that works
	spent     map[string]bool      // used refresh tokens
	access    map[string]time.Time // access token → expiry
	refreshes int
	reuses    int
	revoked   bool

	barrierMu sync.Mutex
	arrived   int
	release   chan struct{}
}

func newRotationServer(t *testing.T) *rotationServer {
	s := &rotationServer{live: "rt-0", spent: map[string]bool{}, access: map[string]time.Time{}, release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/v1/token", s.token)
	mux.HandleFunc("GET /api/v1/version", s.version)
	mux.HandleFunc("GET /barrier", s.barrier)
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func oauthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":%q,"error_description":"test server"}`, code)
}

func (s *rotationServer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, 400, "invalid_request")
		return
	}
	if r.PostForm.Get("client_secret") != testAPIKey {
		oauthError(w, 401, "invalid_client")
		return
	}
	if r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("client_id") != "api" {
		oauthError(w, 400, "invalid_grant")
		return
	}
	rt := r.PostForm.Get("refresh_token")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.spent[rt]:
		// Reuse: revoke the family (RFC 9700), as the reference server does.
		s.reuses++
		s.revoked = true
		s.live = ""
		oauthError(w, 400, "invalid_grant")
		return
	case s.revoked || rt != s.live:
		oauthError(w, 400, "invalid_grant")
		return
	}
	s.spent[rt] = true
	s.refreshes++
	s.gen++
	s.live = "rt-" + strconv.Itoa(s.gen)
	at := "at-" + strconv.Itoa(s.gen)
	s.access[at] = time.Now().Add(time.Hour)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": 3600, "access_token": at, "refresh_token": s.live})
}

func (s *rotationServer) version(w http.ResponseWriter, r *http.Request) {
	at, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	exp, known := s.access[at]
	good := ok && known && !s.revoked && time.Now().Before(exp) && r.Header.Get("X-Api-Key") == testAPIKey
	s.mu.Unlock()
	if !good {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		oauthError(w, 401, "invalid_token")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"version":"test"}`)
}

func (s *rotationServer) barrier(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	s.barrierMu.Lock()
	s.arrived++
	if s.arrived == n {
		close(s.release)
	}
	s.barrierMu.Unlock()
	select {
	case <-s.release:
	case <-time.After(time.Minute):
		http.Error(w, "barrier timeout", http.StatusServiceUnavailable)
	}
}

// stats returns the counters.
func (s *rotationServer) stats() (refreshes, reuses int, revoked bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshes, s.reuses, s.revoked
}
