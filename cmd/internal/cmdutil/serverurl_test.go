package cmdutil

import (
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestServerURL(t *testing.T) {
	tests := []struct {
		in, want, note, err string
	}{
		{in: "http://127.0.0.1:7300", want: "http://127.0.0.1:7300"},
		{in: "http://127.0.0.1:7300/", want: "http://127.0.0.1:7300"},
		{in: " https://paragon.example/tenant/ ", want: "https://paragon.example/tenant"},
		// What the banner of `paragon server` prints.
		{in: "http://127.0.0.1:7300/api/v1", want: "http://127.0.0.1:7300", note: "note: --server http://127.0.0.1:7300/api/v1 names the server's API, not its root; using http://127.0.0.1:7300 (paragon adds /api/v1 itself)"},
		{in: "http://127.0.0.1:7300/api/v1/", want: "http://127.0.0.1:7300", note: "paragon adds /api/v1 itself"},
		{in: "https://h/x/oauth/v1", want: "https://h/x", note: "names the server's OAuth service"},
		{in: "http://h:1/admin", want: "http://h:1", note: "admin API"},
		{in: "127.0.0.1:7300", err: `--server "127.0.0.1:7300": not an http(s) URL (the scheme is missing: did you mean http://127.0.0.1:7300 or https://127.0.0.1:7300?)`},
		{in: "localhost", err: "the scheme is missing: did you mean http://localhost"},
		{in: "ftp://h", err: `not an http(s) URL (use http://HOST:PORT or https://HOST:PORT)`},
		{in: "http://127.0.0.1:71391", err: `--server "http://127.0.0.1:71391": port 71391 is not a TCP port (1-65535)`},
		{in: "http://127.0.0.1:0", err: "port 0 is not a TCP port"},
		{in: "http://h:", err: "the port after the colon is missing"},
		{in: "http://u:p@h", err: "credentials do not belong in the URL"},
		{in: "http://h/?x=1", err: "no query or fragment"},
		{in: "", err: "empty"},
	}
	for _, tt := range tests {
		got, note, err := ServerURL("--server", tt.in)
		if tt.err != "" {
			var fe *FlagError
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.As(err, &fe) {
				t.Errorf("%q: err %v, want a usage error with %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want || !strings.Contains(note, tt.note) || (tt.note == "") != (note == "") {
			t.Errorf("%q: got %q, %q, %v; want %q, note with %q", tt.in, got, note, err, tt.want, tt.note)
		}
	}
}

// TestSchemeTransport: http:// to a TLS server and https:// to a plain one
// come back as a *SchemeError that ConnectionProblem explains with the URL
// to use, whatever the method.
func TestSchemeTransport(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	plain := httptest.NewServer(h)
	defer plain.Close()
	tlsSrv := httptest.NewUnstartedServer(h)
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	c := &http.Client{Transport: schemeTransport{tlsSrv.Client().Transport}}

	tlsAsHTTP := "http://" + strings.TrimPrefix(tlsSrv.URL, "https://")
	plainAsHTTPS := "https://" + strings.TrimPrefix(plain.URL, "http://")
	for _, tt := range []struct {
		method, url, flag, want string
	}{
		{"POST", tlsAsHTTP + "/oauth/v1/register", "--server", ": this server speaks HTTPS, not plain HTTP: use --server " + tlsSrv.URL},
		{"HEAD", tlsAsHTTP + "/api/v1/account", "--server", "this server speaks HTTPS, not plain HTTP: use --server " + tlsSrv.URL},
		{"GET", plainAsHTTPS + "/api/v1/version", "--oauth-url", "this server speaks plain HTTP, not HTTPS: use --oauth-url " + plain.URL},
	} {
		req, _ := http.NewRequest(tt.method, tt.url, nil)
		_, err := c.Do(req)
		var se *SchemeError
		if !errors.As(err, &se) {
			t.Fatalf("%s %s: err %v, want a *SchemeError", tt.method, tt.url, err)
		}
		base := strings.SplitN(tt.url, "/", 4)
		targets := []Target{{Flag: "--server", URL: "http://elsewhere:1"}, {Flag: tt.flag, URL: strings.Join(base[:3], "/")}}
		if tt.flag == "--server" {
			targets = targets[1:]
		}
		msg, ok := ConnectionProblem(err, targets...)
		if !ok || !strings.Contains(msg, tt.want) {
			t.Errorf("%s %s: %q, want %q", tt.method, tt.url, msg, tt.want)
		}
	}
	// Other 400 answers pass through with their body intact.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
	}))
	defer bad.Close()
	resp, err := (&http.Client{Transport: schemeTransport{http.DefaultTransport}}).Get(bad.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || strings.TrimSpace(string(b)) != `{"error":"invalid_request"}` {
		t.Errorf("%d %q", resp.StatusCode, b)
	}
}

func TestMessageSaysParagonOnce(t *testing.T) {
	for in, want := range map[string]string{
		"paragon: 400 Bad Request":                   "400 Bad Request",
		"login failed: paragon: invalid credentials": "login failed: invalid credentials",
		"the server answered 404 Not Found":          "the server answered 404 Not Found",
	} {
		if got := Message(errors.New(in)); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestKeyringCause(t *testing.T) {
	for in, want := range map[string]string{
		"keystore: the OS keyring is not usable: keystore: keyring: reading probe of profile paragon-probe: dial unix /x: connect: no such file or directory": "dial unix /x: connect: no such file or directory",
		"keystore: keyring: reading probe of profile paragon-probe: org.freedesktop.DBus.Error.ServiceUnknown":                                                "org.freedesktop.DBus.Error.ServiceUnknown",
		"no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset), so no Secret Service":                                                                      "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset), so no Secret Service",
	} {
		if got := KeyringCause(in); got != want {
			t.Errorf("%q:\n got %q\nwant %q", in, got, want)
		}
	}
}

// TestSchemeHintForStoredURL: when the URL is the profile's (no --server on
// this command), the hint says how to change the profile.
func TestSchemeHintForStoredURL(t *testing.T) {
	err := &SchemeError{URL: &url.URL{Scheme: "https", Host: "h:1"}, WantHTTPS: true}
	msg, ok := ConnectionProblem(err, Target{Flag: "--server", URL: "http://h:1", Stored: true})
	if want := "h:1: this server speaks HTTPS, not plain HTTP: point the profile at https://h:1 with paragon login --server https://h:1"; !ok || msg != want {
		t.Errorf("%q\nwant %q", msg, want)
	}
}

// TestSameServer: a scheme change alone is the same server (its device and
// login stay); another host, port or path is another one.
func TestSameServer(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		same bool
	}{
		{"http://h:1", "https://h:1", true},
		{"https://H:1", "https://h:1", true},
		{"https://h:1", "https://h:2", false},
		{"https://h", "https://other", false},
		{"https://h/a", "https://h/b", false},
	} {
		if got := sameServer(tt.a, tt.b); got != tt.same {
			t.Errorf("sameServer(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}
