package adminweb

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paragon-cli/paragon/server/internal/throttle"
)

// postFrom signs in from addr with token and returns the status.
func postFrom(h http.Handler, addr, token string) int {
	req := httptest.NewRequest("POST", "/admin/login", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = addr + ":4444"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// Filling the table of failing addresses used to empty it, wiping every
// count: with enough addresses one could guess without end. Addresses that
// find it full now share one count. (The guesses come from distinct /64s:
// the addresses of one /64 share a count anyway.)
func TestSignInThrottlingSurvivesAFullTable(t *testing.T) {
	c, st := newClient(t, newFakeBackend())
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st.now = func() time.Time { return now }
	waits := recordWaits(st)
	for i := range throttle.DefaultMaxRecords - 1 { // the table is then full
		st.limiter.Fail(fmt.Sprintf("2001:db8::%x", i))
	}
	for i := range throttle.DefaultMax {
		if code := postFrom(c.h, fmt.Sprintf("2001:db8:1:%x::1", i), "guess"); code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, code)
		}
	}
	if code := postFrom(c.h, "2001:db8:2::1", "guess"); code != http.StatusTooManyRequests || len(*waits) != 1 {
		t.Errorf("a new address while the overflow count is spent: %d, waits %v; want 429 after a pause", code, *waits)
	}
	if code := postFrom(c.h, "2001:db8:2::1", testAdminToken); code != http.StatusSeeOther {
		t.Errorf("the right token while the overflow count is spent: %d, want 303", code)
	}
	if n := st.limiter.Records(); n > throttle.DefaultMaxRecords {
		t.Errorf("%d failure records, bound is %d", n, throttle.DefaultMaxRecords)
	}
	for i := range throttle.DefaultMaxRecords + 10 {
		st.limiter.Fail(fmt.Sprintf("203.0.113.%d", i))
	}
	if n := st.limiter.Records(); n > throttle.DefaultMaxRecords {
		t.Errorf("%d failure records, bound is %d", n, throttle.DefaultMaxRecords)
	}
	now = now.Add(throttle.DefaultWindow)
	if code := postFrom(c.h, "2001:db8:2::1", "guess"); code != http.StatusUnauthorized {
		t.Errorf("after the window: %d, want 401", code)
	}
}
