package browser_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paragon-cli/paragon/client"
	"github.com/paragon-cli/paragon/internal/testutil/headless"
)

// The real binary, built once for the tests that need it.
var (
	buildOnce  sync.Once
	paragonBin string
	buildErr   error
	buildDir   string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// paragonBinary builds ./cmd/paragon once and returns its path.
func paragonBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "paragon-browser-")
		if buildErr != nil {
			return
		}
		bin := filepath.Join(buildDir, "paragon")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/paragon")
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/paragon: %v\n%s", err, out)
			return
		}
		paragonBin = bin
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return paragonBin
}

// serverProc is a running `paragon server`.
type serverProc struct {
	cmd    *exec.Cmd
	url    string
	banner strings.Builder // stdout up to the listen line
	exited chan struct{}
}

// startParagon runs `paragon server args...` until its listen line; the
// process is killed when the test ends.
func startParagon(t *testing.T, args ...string) *serverProc {
	t.Helper()
	p := &serverProc{exited: make(chan struct{})}
	p.cmd = exec.Command(paragonBinary(t), append([]string{"server"}, args...)...)
	home := t.TempDir()
	p.cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "NO_COLOR=1")
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	var stderrMu sync.Mutex
	p.cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		stderrMu.Lock()
		defer stderrMu.Unlock()
		return stderr.Write(b)
	})
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if u, ok := strings.CutPrefix(line, "listening on "); ok {
				listening <- u
				break
			}
			p.banner.WriteString(line + "\n")
		}
		_, _ = io.Copy(io.Discard, out)
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.kill(t) })
	select {
	case p.url = <-listening:
	case <-p.exited:
		stderrMu.Lock()
		defer stderrMu.Unlock()
		t.Fatalf("paragon server exited before listening:\n%s%s", p.banner.String(), stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("paragon server did not print its listen line within 30 s")
	}
	return p
}

// kill sends SIGKILL (no graceful shutdown) and waits for the exit.
func (p *serverProc) kill(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		t.Fatal("paragon server did not exit after SIGKILL")
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// TestBrowserApprovalSurvivesKill9 is the "done when" in one test:
// `paragon server --data FILE --tls-self-signed` (the real binary), a device
// registered by the client library and approved in headless chromium, its
// device token and alice's user token obtained; then `kill -9`, a restart on
// the same file, and the same tokens keep working: the access token calls
// the API, both refresh tokens rotate, the device token logs a user in, and
// the page (after signing in again: sessions are in memory) lists the device
// as trusted.
func TestBrowserApprovalSurvivesKill9(t *testing.T) {
	if _, err := exec.LookPath("chromium"); err != nil {
		if _, err := os.Stat("/usr/bin/chromium"); err != nil {
			t.Skip("chromium not installed: apt-get install chromium to run the browser test")
		}
	}
	paragonBinary(t) // the build does not count against the test's budget
	start := time.Now()
	dir := t.TempDir()
	data := filepath.Join(dir, "state.db")
	args := []string{"--addr", "127.0.0.1:0", "--data", data, "--tls-self-signed", "--admin-token", adminToken, "--password-cost", "4"}
	srv := startParagon(t, args...)
	if !strings.Contains(srv.banner.String(), data+".cert.pem") {
		t.Fatalf("the banner does not name the certificate:\n%s", srv.banner.String())
	}
	certPEM, err := os.ReadFile(data + ".cert.pem")
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(certPEM)
	if blk == nil {
		t.Fatal("the certificate file holds no PEM block")
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	// What a client given --cacert does: trust that certificate, nothing more.
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	ctx := newBrowser(t, 2*testBudget, 1024, 900, cert.RawSubjectPublicKeyInfo)
	tctx, cancel := context.WithDeadline(context.Background(), start.Add(2*testBudget))
	t.Cleanup(cancel)

	cl, err := client.New(client.Config{BaseURL: srv.url, APIKey: apiKey, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	key, err := client.GenerateDeviceKey()
	if err != nil {
		t.Fatal(err)
	}
	dev := client.NewDeviceID()
	reg, err := cl.Register(tctx, client.RegisterRequest{ClientID: dev, Description: "survives kill -9", Key: key})
	if err != nil {
		t.Fatalf("register: %v", err)
	}

	// Sign in and approve on the page.
	signIn := func(base string) {
		t.Helper()
		headless.Do(t, ctx, "sign in",
			chromedp.Navigate(base+"/admin"),
			chromedp.WaitVisible(chromedp.ID("token")),
			chromedp.SendKeys(chromedp.ID("token"), adminToken+"\r"),
			chromedp.WaitVisible(chromedp.ID("trusted-h")))
	}
	signIn(srv.url)
	row := `tr[data-client-id="` + dev + `"]`
	headless.Do(t, ctx, "approve",
		chromedp.Click(chromedp.CSS(`#pending `+row+` button.approve`)),
		chromedp.WaitVisible(chromedp.CSS(`#trusted `+row)))

	// The first poll after the approval gets the device token.
	devTok, err := cl.PollDeviceToken(tctx, client.PollRequest{ClientID: dev, DeviceCode: reg.DeviceCode, Key: key, Interval: reg.Interval})
	if err != nil {
		t.Fatalf("device token after the approval: %v", err)
	}
	user, err := cl.LoginToken(tctx, client.LoginRequest{UserID: "alice", Password: "wonderland", DeviceToken: client.StaticTokenSource(devTok)})
	if err != nil {
		t.Fatalf("login: %v", err)
	}

	// kill -9, then the same command on the same file.
	srv.kill(t)
	srv2 := startParagon(t, args...)
	if !strings.Contains(srv2.banner.String(), "(self-signed, reused;") {
		t.Errorf("the restart did not reuse the certificate:\n%s", srv2.banner.String())
	}
	if srv2.url != srv.url {
		// A new port (127.0.0.1:0): the client follows it; the certificate
		// is for the host, so the CA file still fits.
		cl, err = client.New(client.Config{BaseURL: srv2.url, APIKey: apiKey, HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
	}

	// The user's access token from before the crash still calls the API.
	req, err := http.NewRequestWithContext(tctx, http.MethodGet, srv2.url+"/api/v1/users/all", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Api-Key", apiKey)
	req.Header.Set("Authorization", "Bearer "+user.AccessToken)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("API call after the restart (the client trusts the same CA file): %v", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"alice"`) {
		t.Fatalf("users/all with the access token from before kill -9: %d %s", resp.StatusCode, body)
	}
	// Both refresh tokens rotate, and the refreshed device token logs in.
	if _, err := cl.RefreshUser(tctx, user.RefreshToken); err != nil {
		t.Fatalf("user refresh after the restart: %v", err)
	}
	devTok2, err := cl.RefreshDevice(tctx, dev, key, devTok.RefreshToken)
	if err != nil {
		t.Fatalf("device refresh after the restart: %v", err)
	}
	if _, err := cl.LoginToken(tctx, client.LoginRequest{UserID: "bob", Password: "builder", DeviceToken: client.StaticTokenSource(devTok2)}); err != nil {
		t.Fatalf("login with the refreshed device token after the restart: %v", err)
	}

	// The page: signed out (sessions are in memory), then the device is
	// listed as trusted.
	headless.Do(t, ctx, "open /admin after the restart", chromedp.Navigate(srv2.url+"/admin"), chromedp.WaitVisible(chromedp.ID("token")))
	signIn(srv2.url)
	if n := headless.Run(t, ctx, "trusted row", chromedp.Evaluate[int](`document.querySelectorAll('#trusted `+row+`').length`)); n != 1 {
		t.Fatalf("after kill -9 and a restart the device is not in the trusted table")
	}
	t.Logf("approve, kill -9, restart, refresh: %s", time.Since(start).Round(time.Millisecond))
}
