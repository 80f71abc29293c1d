package adminweb

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paragon-cli/paragon/internal/testutil/headless"
)

func TestBrowserSignInAndApprove(t *testing.T) {
	fb := newFakeBackend()
	ts := httptest.NewServer(New(fb, nil))
	t.Cleanup(ts.Close)
	ctx := headless.NewBrowser(t, 30*time.Second, 1280, 900)
	const dev = "6f1c2a7e-3b1d-4c55-9a0e-5d2f8b7c9e01"

	// Not signed in: the page sends the browser to the sign-in form.
	headless.Do(t, ctx, "open /admin", chromedp.Navigate(ts.URL+"/admin"), chromedp.WaitVisible(chromedp.ID("token")))
	if loc := headless.Run(t, ctx, "location", chromedp.Location()); loc != ts.URL+"/admin/login" {
		t.Fatalf("not signed in, /admin went to %s", loc)
	}

	// A wrong token is refused with a message and the form again.
	headless.Do(t, ctx, "wrong token",
		chromedp.SendKeys(chromedp.ID("token"), "not-the-token"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("login-error")))
	if msg := headless.Run(t, ctx, "error text", chromedp.Text(chromedp.ID("login-error"))); !strings.Contains(msg, "That admin token is not right") {
		t.Fatalf("wrong token message: %q", msg)
	}

	// The right token, typed and submitted with Enter.
	headless.Do(t, ctx, "sign in",
		chromedp.SendKeys(chromedp.ID("token"), testAdminToken+"\r"),
		chromedp.WaitVisible(chromedp.ID("pending-h")))
	pending := headless.Run(t, ctx, "pending devices", chromedp.Text(chromedp.ID("pending")))
	for _, want := range []string{dev, "desktop_client", "QA laptop, build agent 3"} {
		if !strings.Contains(pending, want) {
			t.Fatalf("pending devices lack %q:\n%s", want, pending)
		}
	}

	// A form whose CSRF token is gone is refused and changes nothing. (The
	// page's CSP forbids scripts; DevTools evaluation is not subject to it.)
	refuseSel := `#pending form[action$="/refuse"]`
	headless.Do(t, ctx, "drop the CSRF token",
		chromedp.Evaluate[chromedp.Void](`document.querySelector('`+refuseSel+` input[name=csrf]').remove()`),
		chromedp.Click(chromedp.CSS(refuseSel+` button`)),
		chromedp.WaitVisible(chromedp.CSS(`p.flash.error`)))
	if h := headless.Run(t, ctx, "403 heading", chromedp.Text(chromedp.CSS("h1"))); h != "Request refused" {
		t.Fatalf("a form without CSRF token gave %q", h)
	}
	if calls := fb.Calls(); len(calls) != 0 {
		t.Fatalf("backend called by a form without CSRF token: %s", joinCalls(calls))
	}

	// Approve the device; it moves to the trusted table.
	headless.Do(t, ctx, "approve",
		chromedp.Navigate(ts.URL+"/admin"),
		chromedp.WaitVisible(chromedp.ID("pending-h")),
		chromedp.Click(chromedp.CSS(`#pending tr[data-client-id="`+dev+`"] button.approve`)),
		chromedp.WaitVisible(chromedp.CSS(`#trusted tr[data-client-id="`+dev+`"]`)))
	if calls := fb.Calls(); !slices.Equal(calls, []string{"approve " + dev}) {
		t.Fatalf("backend calls %s, want the approval", joinCalls(calls))
	}
	if s := fb.status(dev); s != "trusted" {
		t.Fatalf("device status %q", s)
	}
	flash := headless.Run(t, ctx, "flash", chromedp.Text(chromedp.ID("flash")))
	if !strings.Contains(flash, "Approved device") {
		t.Fatalf("flash %q", flash)
	}
	if p := headless.Run(t, ctx, "pending after approval", chromedp.Text(chromedp.ID("pending"))); strings.Contains(p, dev) {
		t.Fatalf("device still pending:\n%s", p)
	}

	// On a phone-sized window nothing needs sideways scrolling and the
	// buttons are inside the window.
	headless.Do(t, ctx, "narrow window", chromedp.EmulateViewport(390, 800), chromedp.Reload(),
		chromedp.WaitVisible(chromedp.ID("pending-h")))
	fits := headless.Run(t, ctx, "measure", chromedp.Evaluate[bool](`(() => {
		const w = document.documentElement.clientWidth;
		if (document.documentElement.scrollWidth > w) return false;
		return [...document.querySelectorAll('button')].every(b => {
			const r = b.getBoundingClientRect();
			return r.left >= 0 && r.right <= w;
		});
	})()`))
	if !fits {
		t.Fatal("on a 390 px wide window the page scrolls sideways or a button is outside the window")
	}

	shot := headless.Run(t, ctx, "screenshot", chromedp.FullScreenshot(100))
	file := filepath.Join(t.TempDir(), "admin-page.png")
	if err := os.WriteFile(file, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", file)
}

// TestUpdateScreenshot writes docs/admin-page.png, the picture the README
// shows, from demo data: PARAGON_UPDATE_SCREENSHOT=1 go test -run
// TestUpdateScreenshot ./server/adminweb/
func TestUpdateScreenshot(t *testing.T) {
	if os.Getenv("PARAGON_UPDATE_SCREENSHOT") != "1" {
		t.Skip("set PARAGON_UPDATE_SCREENSHOT=1 to rewrite docs/admin-page.png")
	}
	fb := newFakeBackend()
	fb.devices = append(fb.devices, Device{ClientID: "b41e0c9d-77aa-4f0e-8d4c-2a1f3e5c6b70", ClientType: "printer",
		Description: "Finance printer, room 214", Status: "pending", RegisteredAt: fb.now.Add(-17 * time.Minute)})
	ts := httptest.NewServer(New(fb, nil))
	t.Cleanup(ts.Close)

	shoot := func(width int, file string) {
		ctx := headless.NewBrowser(t, 30*time.Second, 1280, 900)
		headless.Do(t, ctx, "sign in and approve",
			chromedp.EmulateViewport(int64(width), 900),
			chromedp.Navigate(ts.URL+"/admin/login"),
			chromedp.SendKeys(chromedp.ID("token"), testAdminToken+"\r"),
			chromedp.WaitVisible(chromedp.ID("pending-h")))
		if fb.status("b41e0c9d-77aa-4f0e-8d4c-2a1f3e5c6b70") == "pending" {
			headless.Do(t, ctx, "approve",
				chromedp.Click(chromedp.CSS(`tr[data-client-id="b41e0c9d-77aa-4f0e-8d4c-2a1f3e5c6b70"] button.approve`)),
				chromedp.WaitVisible(chromedp.ID("flash")))
		}
		shot := headless.Run(t, ctx, "screenshot", chromedp.FullScreenshot(100))
		if err := os.WriteFile(file, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot (%d px wide): %s", width, file)
	}
	shoot(1200, filepath.Join("..", "..", "docs", "admin-page.png"))
	// A phone-sized one, to check the narrow layout; not committed. It goes
	// to $PARAGON_SCREENSHOT_DIR when set, to keep it after the test.
	dir := os.Getenv("PARAGON_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	shoot(390, filepath.Join(dir, "admin-page-narrow.png"))
}
