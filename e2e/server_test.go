package e2e

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// TestServerUsageErrors checks that a bad flag is a usage error (exit 2)
// with a message that says what to do.
func TestServerUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"server", "--addr", "nowhere"}, `paragon: invalid --addr "nowhere": missing port in address; use HOST:PORT, e.g. 127.0.0.1:7300`},
		{[]string{"server", "--tls-cert", "c.pem"}, "paragon: --tls-cert and --tls-key must be given together"},
	} {
		stdout, stderr, code := runParagon(t, tt.args...)
		if code != 2 || !strings.HasPrefix(stderr, tt.want+"\n") || !strings.Contains(stderr, "Run 'paragon server --help' for usage.") || stdout != "" {
			t.Errorf("paragon %v: exit %d\nstdout: %q\nstderr: %q", tt.args, code, stdout, stderr)
		}
	}
	_, stderr, code := runParagon(t, "server", "--addr", "127.0.0.1:0", "--config", "/nonexistent/account.yaml")
	if code != 1 || !strings.Contains(stderr, "reading the account file: open /nonexistent/account.yaml: no such file or directory") {
		t.Errorf("missing config: exit %d, stderr %q", code, stderr)
	}
}

// TestServerSIGTERM checks that SIGTERM stops the real binary cleanly
// (exit 0) and that the banner and the request log went to their streams.
func TestServerSIGTERM(t *testing.T) {
	p := startServer(t, "--addr", "127.0.0.1:0", "--password-cost", "4")
	resp, err := http.Get(p.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
	state := p.signal(t, syscall.SIGTERM)
	if !state.Success() {
		t.Errorf("exit after SIGTERM: %v\nstderr:\n%s", state, p.stderr)
	}
	out, logs := p.stdout.String(), p.stderr.String()
	for _, want := range []string{"API key      paragon-dev-key", "alice     wonderland", "listening on " + p.URL} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`level=INFO msg=request method=GET path=/healthz status=200 duration=\S+`).MatchString(logs) ||
		!strings.Contains(logs, "shutting down") {
		t.Errorf("stderr:\n%s", logs)
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("banner styled although stdout is not a terminal")
	}
}

// TestServerSIGHUPRemovesTemporaryCertificate checks that a hang-up (the
// terminal closed) is a graceful stop too: the generated certificate's
// temporary directory is removed.
func TestServerSIGHUPRemovesTemporaryCertificate(t *testing.T) {
	p := startServer(t, "--addr", "127.0.0.1:0", "--tls-self-signed", "--password-cost", "4")
	m := regexp.MustCompile(`(?m)^  TLS cert     (\S+)  `).FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("no certificate line:\n%s", p.stdout)
	}
	if _, err := os.Stat(m[1]); err != nil {
		t.Fatal(err)
	}
	if state := p.signal(t, syscall.SIGHUP); !state.Success() {
		t.Errorf("exit after SIGHUP: %v\n%s", state, p.stderr)
	}
	if _, err := os.Stat(filepath.Dir(m[1])); !os.IsNotExist(err) {
		t.Errorf("temporary certificate directory left behind: %v", err)
	}
}

// TestServerTLSWithCurl starts the real binary with --tls-self-signed and
// checks with curl and openssl that the printed certificate path works as a
// CA file, that the printed fingerprint is the certificate's, and that TLS
// 1.1 is refused.
func TestServerTLSWithCurl(t *testing.T) {
	needTools(t, "curl", "openssl")
	p := startServer(t, "--addr", "127.0.0.1:0", "--tls-self-signed", "--password-cost", "4")
	if !strings.HasPrefix(p.URL, "https://127.0.0.1:") {
		t.Fatalf("URL %s", p.URL)
	}
	m := regexp.MustCompile(`(?m)^  TLS cert     (\S+)  \(self-signed, generated; clients: --cacert FILE\)\n  SHA-256      ([0-9A-F:]{95})$`).FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("banner lacks the certificate lines:\n%s", p.stdout)
	}
	certFile, fp := m[1], m[2]

	out, err := exec.Command("curl", "-s", "--cacert", certFile, "-w", "%{http_code} %{ssl_verify_result}", "-o", "/dev/null", p.URL+"/healthz").CombinedOutput()
	if err != nil || string(out) != "200 0" {
		t.Errorf("curl --cacert: %v %q", err, out)
	}
	out, err = exec.Command("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", p.URL+"/healthz").CombinedOutput()
	if err == nil {
		t.Errorf("curl without the CA file succeeded: %q", out)
	}
	out, err = exec.Command("curl", "-s", "--cacert", certFile, "--tlsv1.1", "--tls-max", "1.1", "-o", "/dev/null", p.URL+"/healthz").CombinedOutput()
	if err == nil {
		t.Errorf("curl with TLS 1.1 succeeded: %q", out)
	}
	out, err = exec.Command("openssl", "x509", "-in", certFile, "-noout", "-fingerprint", "-sha256").Output()
	if err != nil || strings.TrimSpace(string(out)) != "sha256 Fingerprint="+fp {
		t.Errorf("openssl fingerprint %q (%v), banner %s", out, err, fp)
	}
}
