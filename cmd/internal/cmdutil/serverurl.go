package cmdutil

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// rootSuffixes are the paths paragon adds to a server's root URL itself. A
// --server (or --oauth-url, --admin-url) ending in one of them names a
// service under the root rather than the root: the banner of `paragon
// server` prints "API http://127.0.0.1:7300/api/v1", and pasting that must
// work.
var rootSuffixes = []string{"/api/v1", "/oauth/v1", "/admin/api", "/admin"}

// ServerURL checks the value of a URL flag (--server, --oauth-url,
// --admin-url) and returns the server's root URL: without a trailing slash,
// and without a trailing /api/v1, /oauth/v1 or /admin, which paragon adds
// itself. note is non-empty when such a suffix was removed, to tell the
// user. A value that is not an http(s) URL with a host and a valid port is
// a usage mistake (*FlagError, exit 2) that shows the URL to use instead
// when it can guess it.
func ServerURL(flag, raw string) (root, note string, err error) {
	s := strings.TrimSpace(raw)
	bad := func(why string) error { return FlagErrorf("%s %q: %s", flag, raw, why) }
	if s == "" {
		return "", "", bad("empty: pass a URL such as http://127.0.0.1:7300")
	}
	u, perr := url.Parse(s)
	if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// host:port parses as scheme "host" (or fails): say what to type.
		if !strings.Contains(s, "://") {
			return "", "", bad(fmt.Sprintf("not an http(s) URL (the scheme is missing: did you mean http://%s or https://%s?)", s, s))
		}
		return "", "", bad("not an http(s) URL (use http://HOST:PORT or https://HOST:PORT)")
	}
	if u.User != nil {
		return "", "", bad("credentials do not belong in the URL: pass the API key with --api-key-stdin")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", "", bad(fmt.Sprintf("port %s is not a TCP port (1-65535)", p))
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return "", "", bad("the port after the colon is missing")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", "", bad("a server URL has no query or fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	for _, suf := range rootSuffixes {
		if trimmed, ok := strings.CutSuffix(u.Path, suf); ok {
			u.Path = trimmed
			root = u.String()
			note = fmt.Sprintf("note: %s %s names the server's %s, not its root; using %s (paragon adds %s itself)", flag, strings.TrimRight(s, "/"), serviceName(suf), root, suf)
			return root, note, nil
		}
	}
	return u.String(), "", nil
}

func serviceName(suffix string) string {
	switch suffix {
	case "/api/v1":
		return "API"
	case "/oauth/v1":
		return "OAuth service"
	}
	return "admin API"
}

// SchemeError is returned by the HTTP transport of every command when the
// URL's scheme does not match what the server speaks: http:// to a TLS port
// (WantHTTPS) or https:// to a plain HTTP one.
type SchemeError struct {
	// URL is the request's URL with the scheme the server speaks.
	URL       *url.URL
	WantHTTPS bool
}

func (e *SchemeError) Error() string {
	if e.WantHTTPS {
		return fmt.Sprintf("%s speaks HTTPS, not plain HTTP", e.URL.Host)
	}
	return fmt.Sprintf("%s speaks plain HTTP, not HTTPS", e.URL.Host)
}

// schemeTransport recognises a scheme that does not match the server and
// turns what Go would report (a bare "400 Bad Request", or "server gave HTTP
// response to HTTPS client") into a *SchemeError.
type schemeTransport struct{ base http.RoundTripper }

// httpToTLSAnswers are what servers answer a plain HTTP request sent to their
// TLS port: Go's net/http, nginx.
var httpToTLSAnswers = [][]byte{[]byte("Client sent an HTTP request to an HTTPS server"), []byte("The plain HTTP request was sent to HTTPS port")}

func (t schemeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	switched := func(https bool) *url.URL {
		u := *req.URL
		u.Scheme, u.Path, u.RawPath, u.RawQuery = "http", "", "", ""
		if https {
			u.Scheme = "https"
		}
		return &u
	}
	if err != nil {
		var rh tls.RecordHeaderError // what http.Client turns into http.ErrSchemeMismatch
		if req.URL.Scheme == "https" && (errors.Is(err, http.ErrSchemeMismatch) || errors.As(err, &rh) && string(rh.RecordHeader[:]) == "HTTP/") {
			return nil, &SchemeError{URL: switched(false)}
		}
		return nil, err
	}
	if req.URL.Scheme != "http" || resp.StatusCode != http.StatusBadRequest {
		return resp, nil
	}
	// Go's TLS server answers a bare HTTP/1.0 400 without a single header;
	// the body (absent for HEAD) says why.
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	bare := resp.ProtoMajor == 1 && resp.ProtoMinor == 0 && len(resp.Header) == 0
	for _, a := range httpToTLSAnswers {
		if bytes.Contains(head, a) {
			bare = true
		}
	}
	if bare {
		resp.Body.Close()
		return nil, &SchemeError{URL: switched(true), WantHTTPS: true}
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	return resp, nil
}
