package server

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/paragon-cli/paragon/server/adminweb"
)

// hostPolicy is the host names the server answers to (Options.CheckHost):
// the loopback names and the allowed ones. A DNS-rebinding web page reaches
// a server on 127.0.0.1 under its own name, which this refuses.
type hostPolicy struct {
	on      bool
	allowed map[string]bool // normalized by hostName
	// last is the last Host header allowed. Whether a header is allowed
	// depends on the header alone (the policy never changes), and a
	// client sends the same one with every request: the same header is
	// allowed again with one comparison instead of being split, lowered
	// and parsed as an address on every request.
	last *atomic.Pointer[string]
}

func newHostPolicy(check bool, allowed []string) (hostPolicy, error) {
	p := hostPolicy{on: check || len(allowed) > 0, allowed: map[string]bool{}, last: new(atomic.Pointer[string])}
	for _, a := range allowed {
		if err := CheckAllowedHost(a); err != nil {
			return hostPolicy{}, err
		}
		p.allowed[hostName(a)] = true
	}
	return p, nil
}

// CheckAllowedHost checks an entry of Options.AllowedHosts: a host name or
// IP address, possibly with a port (which is ignored).
func CheckAllowedHost(a string) error {
	if _, port, err := net.SplitHostPort(a); err == nil && strings.Trim(port, "0123456789") != "" || !validHostName(hostName(a)) {
		return fmt.Errorf("allowed host %q is not a host name or IP address", a)
	}
	return nil
}

// allows reports whether the server answers to the Host header host.
func (p hostPolicy) allows(host string) bool {
	if !p.on {
		return true
	}
	if last := p.last.Load(); last != nil && *last == host {
		return true
	}
	if p.allowed[hostName(host)] || LoopbackHost(host) {
		remembered := host // a copy: taking host's address would move it to the heap on every call
		p.last.Store(&remembered)
		return true
	}
	return false
}

// LoopbackHost reports whether host, a Host header or a listen address
// (HOST, HOST:PORT, [IPv6]:PORT), names this machine only: localhost or a
// loopback IP address, in any case and with or without a final dot.
func LoopbackHost(host string) bool {
	n := hostName(host)
	if n == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(n)
	return err == nil && a.Unmap().IsLoopback()
}

// hostName is host without port, IPv6 brackets and final dot, in lower
// case: "LocalHost.:80" is "localhost", "[::1]:7300" is "::1".
func hostName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// validHostName reports whether n (from hostName) is an IP address or a
// DNS name: letters, digits, hyphens and dots.
func validHostName(n string) bool {
	if _, err := netip.ParseAddr(n); err == nil {
		return true
	}
	if n == "" || len(n) > 253 || strings.HasPrefix(n, ".") || strings.Contains(n, "..") {
		return false
	}
	for _, c := range n {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '.' && c != '_' {
			return false
		}
	}
	return true
}

// refuseHost answers a request for a host name the server does not answer
// to: 421 Misdirected Request, as the admin page's HTML error page on the
// page, else as a JSON error.
func refuseHost(w http.ResponseWriter, r *http.Request) {
	n := hostName(r.Host)
	allow := "paragon server --allowed-host NAME answers to another name too"
	if validHostName(n) {
		allow = "if you meant to reach it as " + n + ", start it with --allowed-host " + n
	}
	msg := fmt.Sprintf("this server answers only to localhost, 127.0.0.1, [::1] and the names given with --allowed-host, not to %q (a web page under another name must not reach it: DNS rebinding); %s", r.Host, allow)
	if isAdminPage(r.URL.Path) {
		adminweb.WriteError(w, http.StatusMisdirectedRequest, "Wrong address", msg)
		return
	}
	writeErr(w, errf(http.StatusMisdirectedRequest, "misdirected_request", "%s", msg))
}
