package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRecoverLastResort: a panicking handler answers a JSON 500 (never
// reached by any request in the other tests, which all check for 5xx), and
// http.ErrAbortHandler still aborts.
func TestRecoverLastResort(t *testing.T) {
	s := newTestServer(t)
	h := s.middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
	if w.Code != 500 || !strings.Contains(w.Body.String(), `"server_error"`) || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	abort := s.middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Fatalf("recovered %v", v)
		}
	}()
	abort.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
	t.Fatal("ErrAbortHandler was swallowed")
}
