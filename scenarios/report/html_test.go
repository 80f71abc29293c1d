package report

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paragon-cli/paragon/internal/testutil/headless"
	"github.com/paragon-cli/paragon/scenarios"
)

// htmlSecret is a secret variable of the run in htmlSuite.
const htmlSecret = "note-that-is-secret"

// htmlSuite is a small run against the embedded server with a scenario in
// each status; a secret variable is sent in headers.
const htmlSuite = `name: version-needs-a-token
tags: [version]
steps:
  - call: {path: /version, headers: {X-Note: "${note}"}}
    expect: {status: 403}
---
name: version-broken-on-purpose
description: Expects the wrong status, to show a failure.
rule: "§2.1 every call needs a user token [doc]"
tags: [version, demo]
steps:
  - call: {path: /version, headers: {X-Note: "${note}"}}
    expect:
      status: 200
  - call: {path: /account}
---
name: login-warns-on-purpose
severity: warning
rule: "a rule the vendor leaves open [ours]"
tags: [demo]
steps:
  - login: {userid: alice, password: wonderland, as: me}
    expect: {status: 201}
---
name: needs-device-keys
needs: [device-key]
tags: [keys]
steps:
  - call: {path: /version}
`

// htmlRun runs htmlSuite and returns its report as the command writes it.
func htmlRun(t *testing.T) *scenarios.Report {
	t.Helper()
	// ${note} is given to the run, so the file is read as the command
	// reads it, from the working directory
	t.Chdir(t.TempDir())
	if err := os.WriteFile("demo.yaml", []byte(htmlSuite), 0o600); err != nil {
		t.Fatal(err)
	}
	list, err := scenarios.LoadPathsWith(context.Background(), []string{"demo.yaml"}, scenarios.LoadOptions{Vars: []string{"note"}})
	if err != nil {
		t.Fatal(err)
	}
	vars := []scenarios.Variable{{Name: "note", Value: htmlSecret, Secret: true}}
	rep, err := scenarios.Run(context.Background(), list, scenarios.RunOptions{Target: scenarios.Target{NoDeviceKeys: true}, Vars: vars})
	if err != nil {
		t.Fatal(err)
	}
	return Redact(rep, htmlSecret)
}

func TestHTMLReport(t *testing.T) {
	rep := htmlRun(t)
	var b bytes.Buffer
	if err := WriteHTML(&b, rep); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, secret := range []string{htmlSecret, scenarios.DemoAPIKey, "wonderland"} {
		if strings.Contains(page, secret) {
			t.Errorf("the page holds the secret %q", secret)
		}
	}
	for _, want := range []string{
		`<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;sha256-`,
		"exit status 1: 1 scenario failed",
		"X-Note: [redacted]",
		`data-status="FAILED"`, `data-status="WARNING"`, `data-status="PASSED"`, `data-status="SKIPPED"`,
		"§2.1 every call needs a user token [doc]",
		"demo.yaml:12",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, external := range []string{"<link", " src=", " href=", "@import", "url("} {
		if strings.Contains(page, external) {
			t.Errorf("the page refers to something outside it: %q", external)
		}
	}
	// --strict turns the warning into the exit status.
	rep.Policy.Strict = true
	b.Reset()
	if err := WriteHTML(&b, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "exit status 1: 1 scenario failed") {
		t.Error("strict: the failure still decides")
	}
	ok := &scenarios.Report{Target: "t", Policy: scenarios.Policy{Strict: true}, Scenarios: []scenarios.ScenarioResult{{Name: "w", Status: scenarios.Warning}}}
	b.Reset()
	_ = WriteHTML(&b, ok)
	if !strings.Contains(b.String(), "exit status 1: --strict: 1 warning fail the run") {
		t.Errorf("strict with a warning:\n%s", b.String())
	}
	ok.Policy.Strict = false
	b.Reset()
	_ = WriteHTML(&b, ok)
	if !strings.Contains(b.String(), "exit status 0: nothing failed, 1 warning") {
		t.Error("a warning without strict passes")
	}
	skipped := &scenarios.Report{Target: "t", Scenarios: []scenarios.ScenarioResult{{Name: "s", Status: scenarios.Skipped}}}
	for _, tc := range []struct {
		p    scenarios.Policy
		want string
	}{
		{scenarios.Policy{}, "exit status 1: every scenario was skipped: nothing was tested"},
		{scenarios.Policy{AllowEmpty: true}, "exit status 0: nothing failed"},
		{scenarios.Policy{AllowEmpty: true, FailOnSkip: true}, "exit status 1: --fail-on-skip: 1 skipped scenario fails the run"},
	} {
		skipped.Policy = tc.p
		b.Reset()
		_ = WriteHTML(&b, skipped)
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("%+v: the page lacks %q", tc.p, tc.want)
		}
	}
}

// writeHTMLFile writes the report of htmlSuite to a file and returns its
// file:// URL.
func writeHTMLFile(t *testing.T) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, htmlRun(t)); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return "file://" + p, b.Bytes()
}

// TestHTMLReportInBrowser opens the report in headless Chromium from a
// file, as from a CI artifact: the page renders with its style and script
// (allowed by the CSP's hashes, which would block them otherwise), failing
// and warning scenarios are open, the filters work by mouse and keyboard.
func TestHTMLReportInBrowser(t *testing.T) {
	u, _ := writeHTMLFile(t)
	ctx := headless.NewBrowser(t, 60*time.Second, 1200, 900)
	headless.Do(t, ctx, "open the report", chromedp.Navigate(u), chromedp.WaitReady(chromedp.CSS("footer")))
	// Navigate waits for the load event, after the inline script ran
	if headless.Run(t, ctx, "filters", chromedp.Evaluate[bool](`document.getElementById('filters').hidden`)) {
		t.Fatal("the filters are hidden: the inline script did not run (blocked by the Content-Security-Policy?)")
	}
	if h := headless.Run(t, ctx, "heading", chromedp.Text(chromedp.CSS("h1"))); h != "paragon scenario report" {
		t.Errorf("h1 %q", h)
	}
	if v := headless.Run(t, ctx, "verdict", chromedp.Text(chromedp.CSS(".verdict"))); !strings.Contains(v, "FAILED") || !strings.Contains(v, "exit status 1") {
		t.Errorf("verdict %q", v)
	}
	// the style applied: the inline <style> passed the CSP
	if w := headless.Run(t, ctx, "style", chromedp.Evaluate[string](`getComputedStyle(document.querySelector('.verdict')).borderTopWidth`)); w != "2px" {
		t.Errorf("the style is not applied (CSP?): border %q", w)
	}
	open := headless.Run(t, ctx, "open scenarios", chromedp.Evaluate[map[string]bool](`Object.fromEntries([...document.querySelectorAll('.scenario')].map(d => [d.dataset.status, d.open]))`))
	want := map[string]bool{"FAILED": true, "WARNING": true, "PASSED": false, "SKIPPED": false}
	for k, v := range want {
		if open[k] != v {
			t.Errorf("%s open=%v, want %v (%v)", k, open[k], v, open)
		}
	}
	visible := func(what string) []string {
		return headless.Run(t, ctx, what, chromedp.Evaluate[[]string](`[...document.querySelectorAll('.scenario')].filter(d => !d.hidden && d.offsetParent !== null).map(d => d.dataset.status)`))
	}
	shown := func() string { return headless.Run(t, ctx, "shown", chromedp.Text(chromedp.ID("shown"))) }
	if got := visible("all"); len(got) != 4 || shown() != "Showing 4 of 4 scenarios" {
		t.Fatalf("visible %v, %q", got, shown())
	}
	headless.Do(t, ctx, "untick PASSED", chromedp.Click(chromedp.CSS(`#filters input[value=PASSED]`)))
	if got := visible("without passed"); strings.Join(got, ",") != "FAILED,WARNING,SKIPPED" || shown() != "Showing 3 of 4 scenarios" {
		t.Errorf("without PASSED: %v, %q", got, shown())
	}
	headless.Do(t, ctx, "tag demo", chromedp.SetValue(chromedp.ID("tag"), "demo"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('tag').dispatchEvent(new Event('change'))`))
	if got := visible("tag demo"); strings.Join(got, ",") != "FAILED,WARNING" {
		t.Errorf("tag demo: %v", got)
	}
	// by keyboard: Space on the focused checkbox ticks PASSED again; the
	// name field filters as one types
	headless.Do(t, ctx, "keyboard", chromedp.SetValue(chromedp.ID("tag"), ""),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('tag').dispatchEvent(new Event('change'))`),
		chromedp.Focus(chromedp.CSS(`#filters input[value=PASSED]`)), chromedp.KeyEvent(" "),
		chromedp.SendKeys(chromedp.ID("q"), "version"))
	if got := visible("name version"); strings.Join(got, ",") != "PASSED,FAILED" {
		t.Errorf("name filter: %v", got)
	}
	// Enter on a scenario's summary opens it
	headless.Do(t, ctx, "open by keyboard", chromedp.Focus(chromedp.CSS(`.scenario[data-status=PASSED] > summary`)), chromedp.KeyEvent("\r"))
	if !headless.Run(t, ctx, "opened", chromedp.Evaluate[bool](`document.querySelector('.scenario[data-status=PASSED]').open`)) {
		t.Error("Enter on the summary did not open the scenario")
	}
	// the failure's masked exchange is on the page
	if ex := headless.Run(t, ctx, "exchange", chromedp.Text(chromedp.CSS(`.scenario[data-status=FAILED] pre.exchange`))); !strings.Contains(ex, "X-Note: [redacted]") {
		t.Errorf("request %q", ex)
	}
	// on a phone the page does not scroll sideways (wide tables and
	// exchanges scroll in their own boxes)
	headless.Do(t, ctx, "narrow", chromedp.EmulateViewport(390, 800), chromedp.Click(chromedp.ID("expand")))
	if !headless.Run(t, ctx, "fits", chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`)) {
		t.Error("at 390 px the page is wider than the screen")
	}
	// every form control has a label
	if n := headless.Run(t, ctx, "labels", chromedp.Evaluate[int](`[...document.querySelectorAll('input,select')].filter(e => e.labels.length === 0).length`)); n != 0 {
		t.Errorf("%d controls without a label", n)
	}
}

// TestUpdateReportScreenshot writes docs/scenario-report.png (with
// PARAGON_UPDATE_SCREENSHOT=1).
func TestUpdateReportScreenshot(t *testing.T) {
	if os.Getenv("PARAGON_UPDATE_SCREENSHOT") != "1" {
		t.Skip("set PARAGON_UPDATE_SCREENSHOT=1 to rewrite docs/scenario-report.png")
	}
	file, err := filepath.Abs(filepath.Join("..", "..", "docs", "scenario-report.png"))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := writeHTMLFile(t)
	ctx := headless.NewBrowser(t, 60*time.Second, 1100, 900)
	headless.Do(t, ctx, "open the report", chromedp.EmulateViewport(1100, 900), chromedp.Navigate(u), chromedp.WaitVisible(chromedp.ID("filters")))
	shot := headless.Run(t, ctx, "screenshot", chromedp.FullScreenshot(100))
	if err := os.WriteFile(file, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", file)
}
