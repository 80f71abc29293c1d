package browser_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/paragon-cli/paragon/client"
	"github.com/paragon-cli/paragon/internal/testutil/headless"
	"github.com/paragon-cli/paragon/server"
)

const (
	adminToken = "e2e-browser-admin-token"
	// apiKey is the demo account's API key (server.DemoAccount).
	apiKey = "paragon-dev-key"
	// cookieName is the admin page's session cookie.
	cookieName = "paragon_admin"
	// testBudget bounds the whole test, the browser included.
	testBudget = 25 * time.Second
)

// newBrowser starts headless chromium for one test (headless.NewBrowser)
// that trusts exactly the server certificate cert (and no other invalid
// one); nil means plain HTTP only.
func newBrowser(t *testing.T, timeout time.Duration, width, height int, cert []byte) context.Context {
	t.Helper()
	var extra []chromedp.ExecAllocatorOption
	if cert != nil {
		extra = append(extra, chromedp.Flag("ignore-certificate-errors-spki-list", spkiHash(t, cert)))
	}
	return headless.NewBrowser(t, timeout, width, height, extra...)
}

// spkiHash is the form --ignore-certificate-errors-spki-list wants: base64
// of the SHA-256 of the certificate's SubjectPublicKeyInfo.
func spkiHash(t *testing.T, spki []byte) string {
	t.Helper()
	h := sha256.Sum256(spki)
	return base64.StdEncoding.EncodeToString(h[:])
}

// browserCookies returns the browser's cookies for u.
func browserCookies(t *testing.T, ctx context.Context, u string) []*network.Cookie {
	t.Helper()
	res := headless.Run(t, ctx, "read cookies", func(ctx context.Context, tg *chromedp.Target) (*network.GetCookiesResult, error) {
		r, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
		return &r, err
	})
	return res.Cookies
}

func findCookie(cs []*network.Cookie, name string) *network.Cookie {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// adminAPI calls the server's admin API (section 7.3) with the admin token.
// It is safe to call from any goroutine: it reports errors instead of
// failing the test.
type adminAPI struct {
	base string
	hc   *http.Client
}

func (a adminAPI) do(ctx context.Context, method, path, body string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// deviceStatus returns the status GET /admin/api/devices lists for id.
func (a adminAPI) deviceStatus(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	code, body, err := a.do(ctx, http.MethodGet, "/admin/api/devices", "")
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /admin/api/devices: %d %v %s", code, err, body)
	}
	var list struct {
		Items []struct {
			ClientID string `json:"client_id"`
			Status   string `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatalf("GET /admin/api/devices: %v in %s", err, body)
	}
	for _, d := range list.Items {
		if d.ClientID == id {
			return d.Status
		}
	}
	t.Fatalf("device %s not listed by GET /admin/api/devices: %s", id, body)
	return ""
}

// advance moves the server's fake clock by d.
func (a adminAPI) advance(ctx context.Context, d time.Duration) error {
	code, body, err := a.do(ctx, http.MethodPost, "/admin/api/clock", fmt.Sprintf(`{"advance":%q}`, d.String()))
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("POST /admin/api/clock: %d %s", code, body)
	}
	return nil
}

// pollResult is what PollDeviceToken returned.
type pollResult struct {
	tok *client.Token
	err error
}

// TestBrowserApprovesRegisteredDevice is the browser test against
// the real reference server over HTTPS: the client library registers a
// device with an Ed25519 key and polls for its device token; headless
// chromium refuses a wrong admin token, signs in with the right one, has a
// form without its CSRF token refused, then approves the device; the
// polling client gets a device token that logs alice in.
func TestBrowserApprovesRegisteredDevice(t *testing.T) {
	start := time.Now()
	srv, err := server.New(server.Options{FakeClock: true, PasswordCost: bcrypt.MinCost, AdminToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("closing the server: %v", err)
		}
	})
	ts := httptest.NewTLSServer(srv)
	t.Cleanup(ts.Close)
	hc := *ts.Client() // trusts the test certificate
	hc.Timeout = 10 * time.Second
	api := adminAPI{base: ts.URL, hc: &hc}
	ctx := newBrowser(t, testBudget, 1280, 900, ts.Certificate().RawSubjectPublicKeyInfo)
	// Everything that is not the browser shares the browser's deadline.
	tctx, cancel := context.WithDeadline(context.Background(), start.Add(testBudget))
	t.Cleanup(cancel)

	// 1. The client library registers a device with an Ed25519 key.
	var polls, slowDowns atomic.Int32
	cl, err := client.New(client.Config{
		BaseURL:    ts.URL,
		APIKey:     apiKey,
		HTTPClient: &hc,
		// Polite polling without real 5 s waits: the server counts real
		// time plus fake-clock advances between polls (slow_down rule), so
		// each wait advances the fake clock by the interval, then pauses
		// briefly in real time so the poll loop does not spin.
		Sleep: func(ctx context.Context, d time.Duration) error {
			if err := api.advance(ctx, d); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return err
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
				return nil
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	key, err := client.GenerateDeviceKey()
	if err != nil {
		t.Fatal(err)
	}
	dev := client.NewDeviceID()
	const desc = "E2E browser test, bench 7"
	reg, err := cl.Register(tctx, client.RegisterRequest{ClientID: dev, Description: desc, State: "e2e-state", Key: key})
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	if st := api.deviceStatus(t, tctx, dev); st != "pending" {
		t.Fatalf("a new device is %q, want pending", st)
	}

	// ... and polls for its token in the background until the approval.
	pending := make(chan struct{})
	var pendingOnce sync.Once
	done := make(chan pollResult, 1)
	pctx, stopPolling := context.WithCancel(tctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		tok, err := cl.PollDeviceToken(pctx, client.PollRequest{
			ClientID: dev, DeviceCode: reg.DeviceCode, Key: key, Interval: reg.Interval,
			Progress: func(ev client.PollEvent) {
				polls.Add(1)
				switch ev.Status {
				case "authorization_pending":
					pendingOnce.Do(func() { close(pending) })
				case "slow_down":
					slowDowns.Add(1)
				}
			},
		})
		done <- pollResult{tok, err}
	})
	// The poller stops before the server closes (cleanups run in reverse).
	t.Cleanup(func() { stopPolling(); wg.Wait() })
	select {
	case <-pending:
	case r := <-done:
		t.Fatalf("polling ended before any approval: token %v, err %v", r.tok != nil, r.err)
	case <-tctx.Done():
		t.Fatal("no authorization_pending answer before the deadline")
	}

	// 2a. Not signed in: /admin sends the browser to the sign-in form, and
	// a wrong admin token is refused there.
	headless.Do(t, ctx, "open /admin", chromedp.Navigate(ts.URL+"/admin"), chromedp.WaitVisible(chromedp.ID("token")))
	if loc := headless.Run(t, ctx, "location", chromedp.Location()); loc != ts.URL+"/admin/login" {
		t.Fatalf("not signed in, /admin went to %s", loc)
	}
	wrong, err := chromedp.RunResponse(ctx,
		chromedp.SendKeys(chromedp.ID("token"), "not-"+adminToken),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)))
	if err != nil {
		t.Fatalf("wrong admin token: %v", err)
	}
	if wrong.Status != http.StatusUnauthorized {
		t.Fatalf("wrong admin token: status %d, want 401", wrong.Status)
	}
	headless.Do(t, ctx, "sign-in error", chromedp.WaitVisible(chromedp.ID("login-error")))
	if msg := headless.Run(t, ctx, "sign-in error", chromedp.Text(chromedp.ID("login-error"))); !strings.Contains(msg, "admin token is not right") {
		t.Fatalf("wrong admin token: message %q", msg)
	}
	if loc := headless.Run(t, ctx, "location", chromedp.Location()); loc != ts.URL+"/admin/login" {
		t.Fatalf("after a wrong admin token the browser is at %s, want the sign-in form", loc)
	}
	if c := findCookie(browserCookies(t, ctx, ts.URL+"/admin"), cookieName); c != nil {
		t.Fatal("a wrong admin token got a session cookie")
	}
	if n := headless.Run(t, ctx, "count tables", chromedp.Evaluate[int](`document.querySelectorAll('#pending, #trusted').length`)); n != 0 {
		t.Fatal("the sign-in form with a wrong token shows the device tables")
	}

	// 2b. The right token signs in; the pending device is listed with what
	// the client registered.
	row := `#pending tr[data-client-id="` + dev + `"]`
	headless.Do(t, ctx, "sign in",
		chromedp.SendKeys(chromedp.ID("token"), adminToken+"\r"),
		chromedp.WaitVisible(chromedp.CSS(row)))
	if txt := headless.Run(t, ctx, "pending row", chromedp.Text(chromedp.CSS(row))); !strings.Contains(txt, desc) || !strings.Contains(txt, client.ClientTypeDesktop) {
		t.Fatalf("pending row lacks the description or type: %q", txt)
	}
	sess := findCookie(browserCookies(t, ctx, ts.URL+"/admin"), cookieName)
	switch {
	case sess == nil:
		t.Fatal("signed in without a session cookie")
	case !sess.HTTPOnly || !sess.Secure || sess.SameSite != network.CookieSameSiteStrict:
		t.Fatalf("session cookie: HttpOnly %v, Secure %v, SameSite %q; want HttpOnly, Secure (HTTPS), Strict", sess.HTTPOnly, sess.Secure, sess.SameSite)
	case strings.Contains(sess.Value, adminToken):
		t.Fatal("the session cookie holds the admin token")
	}

	// 4. A state-changing POST without the CSRF token is refused with 403
	// and the device stays pending: once from the page (the Approve form
	// with its csrf field removed; DevTools evaluation is not subject to the
	// page's CSP), once as a bare POST with the browser's session cookie.
	approveForm := row + ` form[action$="/approve"]`
	resp, err := chromedp.RunResponse(ctx,
		chromedp.Evaluate[chromedp.Void](`document.querySelector('`+approveForm+` input[name=csrf]').remove()`),
		chromedp.Click(chromedp.CSS(approveForm+` button`)))
	if err != nil {
		t.Fatalf("approve without CSRF token: %v", err)
	}
	if resp.Status != http.StatusForbidden {
		t.Fatalf("approve without CSRF token from the page: status %d, want 403", resp.Status)
	}
	if h := headless.Run(t, ctx, "403 heading", chromedp.Text(chromedp.CSS("h1"))); h != "Request refused" {
		t.Fatalf("approve without CSRF token: page heading %q", h)
	}
	req, err := http.NewRequestWithContext(tctx, http.MethodPost, ts.URL+"/admin/devices/"+url.PathEscape(dev)+"/approve", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: cookieName, Value: sess.Value})
	bare, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	bareBody, _ := io.ReadAll(io.LimitReader(bare.Body, 1<<20))
	bare.Body.Close()
	if bare.StatusCode != http.StatusForbidden || !bytes.Contains(bareBody, []byte("security token")) {
		t.Fatalf("POST approve with session cookie but no CSRF token: %d\n%s", bare.StatusCode, bareBody)
	}
	if st := api.deviceStatus(t, tctx, dev); st != "pending" {
		t.Fatalf("after POSTs without CSRF token the device is %q, want pending", st)
	}
	select {
	case r := <-done:
		t.Fatalf("the client stopped polling before the approval: token %v, err %v", r.tok != nil, r.err)
	default:
	}

	// 2c. Approve from a fresh page; the device moves to the trusted table.
	headless.Do(t, ctx, "approve",
		chromedp.Navigate(ts.URL+"/admin"),
		chromedp.WaitVisible(chromedp.CSS(row)),
		chromedp.Click(chromedp.CSS(row+` button.approve`)),
		chromedp.WaitVisible(chromedp.CSS(`#trusted tr[data-client-id="`+dev+`"]`)))
	if flash := headless.Run(t, ctx, "flash", chromedp.Text(chromedp.ID("flash"))); !strings.Contains(flash, "Approved") {
		t.Fatalf("flash after approval: %q", flash)
	}
	if st := api.deviceStatus(t, tctx, dev); st != "trusted" {
		t.Fatalf("after approval the device is %q, want trusted", st)
	}

	// 3. The polling client gets its device token, and it works: alice
	// logs in with it. A made-up device token does not.
	var r pollResult
	select {
	case r = <-done:
	case <-tctx.Done():
		t.Fatalf("the client got no device token before the deadline (%d polls, %d slow_down)", polls.Load(), slowDowns.Load())
	}
	if r.err != nil {
		t.Fatalf("polling for the device token: %v", r.err)
	}
	if r.tok == nil || r.tok.AccessToken == "" {
		t.Fatal("polling returned no device token")
	}
	if n := slowDowns.Load(); n != 0 {
		t.Fatalf("%d slow_down answers: the fake-clock pacing did not count", n)
	}
	user, err := cl.LoginToken(tctx, client.LoginRequest{UserID: "alice", Password: "wonderland", DeviceToken: client.StaticTokenSource(r.tok)})
	if err != nil {
		t.Fatalf("login with the approved device's token: %v", err)
	}
	if user.AccessToken == "" || user.AccessToken == r.tok.AccessToken {
		t.Fatal("login gave no user token of its own")
	}
	_, err = cl.LoginToken(tctx, client.LoginRequest{UserID: "alice", Password: "wonderland", DeviceToken: client.StaticTokenSource(&client.Token{AccessToken: "not-a-device-token"})})
	if !errors.Is(err, client.ErrDeviceNotTrusted) {
		t.Fatalf("login with a made-up device token: %v, want ErrDeviceNotTrusted", err)
	}

	// 5. A full-page screenshot of the page after the approval, in the
	// test's temp dir, or in $PARAGON_SCREENSHOT_DIR to keep it.
	shot := headless.Run(t, ctx, "screenshot", chromedp.FullScreenshot(100))
	dir := os.Getenv("PARAGON_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	file := filepath.Join(dir, "admin-page-e2e.png")
	if err := os.WriteFile(file, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", file)
	t.Logf("%d polls before the token; %s in all", polls.Load()+1, time.Since(start).Round(time.Millisecond))
}
