package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// hostReq sends method path to h with the Host header host.
func hostReq(h http.Handler, method, path, host string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	r.Host = host
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestHostCheck: with CheckHost, a request for a name other than a loopback
// one (DNS rebinding: a web page whose name resolves to 127.0.0.1) gets 421,
// as JSON on the APIs and as the admin page's HTML error page on the page.
func TestHostCheck(t *testing.T) {
	s := newTestServer(t, func(o *Options) { o.CheckHost = true })
	admin := map[string]string{"Authorization": "Bearer " + s.AdminToken()}
	for _, host := range []string{"localhost", "localhost:7300", "LocalHost.:80", "127.0.0.1", "127.0.0.1:7300", "127.1.2.3:9", "[::1]", "[::1]:7300", "[::ffff:127.0.0.1]:1"} {
		if w := hostReq(s, "GET", "/healthz", host, nil); w.Code != 200 {
			t.Errorf("Host %q: %d %s", host, w.Code, w.Body)
		}
		if w := hostReq(s, "GET", "/admin/login", host, nil); w.Code != 200 {
			t.Errorf("Host %q: admin page %d", host, w.Code)
		}
	}
	for _, host := range []string{"evil.example", "evil.example:7300", "localhost.evil.example", "127.0.0.1.nip.io", "", "0.0.0.0", "10.0.0.1:7300", "[::ffff:8.8.8.8]", "[fe80::1]", "evil\"<b>"} {
		for _, c := range []struct {
			h    http.Handler
			path string
		}{{s, "/healthz"}, {s, "/api/v1/version"}, {s, "/admin/api/devices"}, {s, "/nothing"}, {s.OAuthHandler(), "/oauth/v1/token"}} {
			w := hostReq(c.h, "GET", c.path, host, admin)
			var e map[string]string
			_ = json.Unmarshal(w.Body.Bytes(), &e)
			if w.Code != http.StatusMisdirectedRequest || e["error"] != "misdirected_request" || !strings.Contains(e["error_description"], "--allowed-host") {
				t.Errorf("Host %q, %s: %d %s", host, c.path, w.Code, w.Body)
			}
		}
		w := hostReq(s, "GET", "/admin", host, nil)
		if w.Code != http.StatusMisdirectedRequest || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") ||
			!strings.Contains(w.Body.String(), "Wrong address") || w.Header().Get("X-Frame-Options") != "DENY" {
			t.Errorf("Host %q, admin page: %d %q %s", host, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
		if strings.Contains(w.Body.String(), "<b>") {
			t.Errorf("Host %q is not escaped on the page: %s", host, w.Body)
		}
	}
	// The message suggests the flag for a plausible name, as it is typed.
	w := hostReq(s, "GET", "/healthz", "MyBox.lan:7300", nil)
	if !strings.Contains(w.Body.String(), "--allowed-host mybox.lan") {
		t.Errorf("no suggestion: %s", w.Body)
	}
}

// TestHostCheckAfterAllowed: the check remembers the last Host header it
// allowed; a refused header coming after an allowed one (or while other
// requests with allowed ones are served) is still refused, and an allowed
// one is still allowed after a refused one.
func TestHostCheckAfterAllowed(t *testing.T) {
	s := newTestServer(t, func(o *Options) { o.AllowedHosts = []string{"mybox.lan"} })
	allowed := []string{"localhost:7300", "mybox.lan", "localhost:7300", "127.0.0.1:7300", "MyBox.lan:1"}
	refused := []string{"evil.example:7300", "mybox.lan.evil.example", "localhost.evil.example", "127.0.0.1.nip.io:7300", "[fe80::1]:7300"}
	for round := 0; round < 2; round++ {
		for i := range allowed {
			for range 2 { // each twice in a row: the second time it is the last one seen
				if w := hostReq(s, "GET", "/healthz", allowed[i], nil); w.Code != 200 {
					t.Errorf("Host %q: %d", allowed[i], w.Code)
				}
			}
			for range 2 {
				if w := hostReq(s, "GET", "/healthz", refused[i], nil); w.Code != http.StatusMisdirectedRequest {
					t.Errorf("Host %q after %q: %d", refused[i], allowed[i], w.Code)
				}
			}
		}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				host, want := allowed[(g+i)%len(allowed)], 200
				if (g+i)%2 == 1 {
					host, want = refused[(g+i)%len(refused)], http.StatusMisdirectedRequest
				}
				if w := hostReq(s, "GET", "/healthz", host, nil); w.Code != want {
					t.Errorf("Host %q: %d, want %d", host, w.Code, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestAllowedHosts: AllowedHosts adds names (port and case ignored) and
// turns the check on by itself.
func TestAllowedHosts(t *testing.T) {
	s := newTestServer(t, func(o *Options) { o.AllowedHosts = []string{"MyBox.lan", "192.168.1.5:7300", "[fd00::5]"} })
	for _, host := range []string{"mybox.lan", "MYBOX.LAN:8080", "192.168.1.5", "192.168.1.5:1", "[fd00::5]:7300", "localhost:1", "127.0.0.1"} {
		if w := hostReq(s, "GET", "/healthz", host, nil); w.Code != 200 {
			t.Errorf("Host %q: %d %s", host, w.Code, w.Body)
		}
	}
	for _, host := range []string{"other.lan", "192.168.1.6", "mybox.lan.evil.example"} {
		if w := hostReq(s, "GET", "/healthz", host, nil); w.Code != http.StatusMisdirectedRequest {
			t.Errorf("Host %q: %d %s", host, w.Code, w.Body)
		}
	}
	for _, bad := range []string{"", "http://x", "a/b", "a b", ".x", "x..y"} {
		if _, err := New(Options{AllowedHosts: []string{bad}}); err == nil || !strings.Contains(err.Error(), "allowed host") {
			t.Errorf("AllowedHosts %q: %v", bad, err)
		}
	}
}

// TestNoHostCheckByDefault: a server built without CheckHost (beyond
// loopback, in a container) answers to any name.
func TestNoHostCheckByDefault(t *testing.T) {
	s := newTestServer(t)
	if w := hostReq(s, "GET", "/healthz", "paragon.internal:7300", nil); w.Code != 200 {
		t.Errorf("%d %s", w.Code, w.Body)
	}
}

// TestHostCheckOnTheWire: the check sees the name a request is really for.
// In an absolute-form request the URL's host is the target and the Host
// header is ignored (RFC 9112 3.2.2), so "GET http://evil.example/..." with
// "Host: localhost" must be refused, and the reverse served.
func TestHostCheckOnTheWire(t *testing.T) {
	s := newTestServer(t, func(o *Options) { o.CheckHost = true })
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	for _, c := range []struct {
		target, host string
		want         int
	}{
		{"http://evil.example/healthz", "localhost", http.StatusMisdirectedRequest},
		{"http://evil.example:80/healthz", "127.0.0.1", http.StatusMisdirectedRequest},
		{"http://localhost/healthz", "evil.example", http.StatusOK},
		{"/healthz", "LOCALHOST.", http.StatusOK},
		{"/healthz", "[::1%25lo]:1", http.StatusOK}, // still loopback: a zone names no other host
		{"/healthz", "evil.example.", http.StatusMisdirectedRequest},
	} {
		conn, err := net.Dial("tcp", ts.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", c.target, c.host)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode != c.want {
			t.Errorf("GET %s, Host: %s: %d, want %d", c.target, c.host, resp.StatusCode, c.want)
		}
	}
}
