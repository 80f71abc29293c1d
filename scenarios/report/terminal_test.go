package report

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paragon-cli/paragon/scenarios"

	"github.com/paragon-cli/paragon/internal/testutil"
)

func play(t *testing.T, opts TerminalOptions, r *scenarios.Report) string {
	t.Helper()
	var buf bytes.Buffer
	term := NewTerminal(&buf, opts)
	term.Start(r.Target, len(r.Scenarios))
	for _, s := range r.Scenarios {
		term.Started(s.Name)
		term.Finished(s)
	}
	term.Finish(r)
	return buf.String()
}

func small() *scenarios.Report {
	return &scenarios.Report{
		Target:   "http://127.0.0.1:7300",
		Duration: 1240 * time.Millisecond,
		Scenarios: []scenarios.ScenarioResult{
			{Name: "version answers", Status: scenarios.Passed, Duration: 2 * time.Millisecond},
			{Name: "403 without a user token", File: "a.yaml", Rule: "§5 no token: 403 [doc]", Status: scenarios.Failed, Duration: 5 * time.Millisecond,
				Steps: []scenarios.StepResult{{Name: "list users", Status: scenarios.Failed,
					Failures: []scenarios.Failure{{Expectation: "status in [403]", Expected: "403", Actual: "200"}},
					Exchange: &scenarios.Exchange{Request: "GET /api/v1/users/all HTTP/1.1\r\nX-Api-Key: [redacted]\r\n", Response: "HTTP/1.1 200 OK\r\n\r\n{\"items\":[]}\x1b[31m"}}}},
			{Name: "clock", Status: scenarios.Skipped, Reason: "needs clock"},
		},
	}
}

func TestTerminalPlain(t *testing.T) {
	got := play(t, TerminalOptions{TTY: false, Color: true, Spin: time.Millisecond}, small())
	want := `Running 3 scenarios against http://127.0.0.1:7300
PASSED   version answers (2ms)
FAILED   403 without a user token (5ms)
         step "list users": status in [403]: expected 403, got 200
SKIPPED  clock: needs clock

FAILED 403 without a user token
   rule      §5 no token: 403 [doc]
   file      a.yaml
   step      "list users"
             status in [403]
               expected 403
               actual   200
             ▸ request
               GET /api/v1/users/all HTTP/1.1
               X-Api-Key: [redacted]
             ▸ response
               HTTP/1.1 200 OK
               
               {"items":[]}\x1b[31m

PASSED  WARNING  FAILED  SKIPPED  DURATION  TARGET
1       0        1       1        1.24s     http://127.0.0.1:7300

FAIL: 1 scenario of 3 failed (1 skipped)
`
	if got != want {
		t.Errorf("plain output:\n%s\nwant:\n%s", got, want)
	}
}

func TestTerminalTTYWithoutColour(t *testing.T) {
	got := play(t, TerminalOptions{TTY: true, Width: 60}, small())
	if !strings.Contains(got, "\r\x1b[2K  ⠋ 0/3  version answers") {
		t.Errorf("no progress line:\n%q", got)
	}
	if !strings.Contains(got, "  ✗ 403 without a user token") || !strings.Contains(got, "  ○ clock") {
		t.Errorf("no result lines:\n%s", got)
	}
	// Only the progress line's own control sequence: no colours, and the
	// server's escape sequence is shown, not obeyed.
	if n := strings.Count(got, "\x1b["); n != strings.Count(got, "\x1b[2K") {
		t.Errorf("styling without colour:\n%q", got)
	}
	if !strings.Contains(got, "✗ 1 scenario of 3 failed (1 skipped)") {
		t.Errorf("verdict missing:\n%s", got)
	}
	// The live lines fit the terminal (the summary table may not).
	live := got[:strings.Index(got, "\n\nFAILED")]
	for _, l := range strings.Split(live, "\n") {
		l = strings.TrimPrefix(l[strings.LastIndex(l, "\r")+1:], "\x1b[2K")
		if w := len([]rune(l)); w > 60 {
			t.Errorf("line wider than the terminal (%d): %q", w, l)
		}
	}
}

func TestTerminalColour(t *testing.T) {
	got := play(t, TerminalOptions{TTY: true, Color: true, Width: 100}, small())
	for _, want := range []string{"\x1b[32m✓", "\x1b[1;97;41m FAILED ", "╭", "╯", "FAILED", "SKIPPED", "1.24s", "http://127.0.0.1:7300"} {
		if !strings.Contains(got, want) {
			t.Errorf("colour output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "\x1b[31m\x1b") || strings.Contains(got, "{\"items\":[]}\x1b[31m") {
		t.Error("an escape sequence from the server reached the terminal")
	}
}

func TestTerminalVerdicts(t *testing.T) {
	warn := &scenarios.Report{Target: "x", Scenarios: []scenarios.ScenarioResult{
		{Name: "a", Status: scenarios.Passed},
		{Name: "b", Status: scenarios.Warning, Steps: []scenarios.StepResult{{Status: scenarios.Warning,
			Failures: []scenarios.Failure{{Expectation: "status in [400]", Expected: "400", Actual: "401"}}}}},
		{Name: "c", Status: scenarios.Failed, Expected: true},
		{Name: "d", Status: scenarios.Passed, Expected: true},
	}}
	lenient := play(t, TerminalOptions{Baseline: "base.txt"}, warn)
	if !strings.Contains(lenient, "OK: 3 of 4 passed (1 warning, 1 expected failure)\n") {
		t.Errorf("lenient verdict:\n%s", lenient)
	}
	if !strings.Contains(lenient, "! 1 scenario no longer failing; remove from base.txt: d\n") {
		t.Errorf("baseline pruning hint missing:\n%s", lenient)
	}
	if !strings.Contains(lenient, "WARNING b\n") || !strings.Contains(lenient, "cannot fail the run") {
		t.Errorf("warning detail missing:\n%s", lenient)
	}
	if !strings.Contains(lenient, "         step 1: status in [400]: expected 400, got 401\n") || !strings.Contains(lenient, "   step 1    \n") {
		t.Errorf("an unnamed step is not called by its number:\n%s", lenient)
	}
	if !strings.Contains(lenient, "EXPECTED FAILURES") {
		t.Errorf("expected failures column missing:\n%s", lenient)
	}
	strict := play(t, TerminalOptions{Strict: true}, warn)
	if !strings.Contains(strict, "FAIL: 1 warning fail the run under --strict") || !strings.Contains(strict, "--strict: this warning fails the run") {
		t.Errorf("strict verdict:\n%s", strict)
	}
	cut := &scenarios.Report{Target: "x", Interrupted: true, Scenarios: []scenarios.ScenarioResult{
		{Name: "a", Status: scenarios.Passed},
		{Name: "b", Status: scenarios.Failed},
		{Name: "c", Status: scenarios.Skipped, Reason: "run cancelled"},
	}}
	if got := play(t, TerminalOptions{}, cut); !strings.Contains(got, "FAIL: interrupted: 1 of 3 passed before it stopped (1 failed, 1 skipped)\n") {
		t.Errorf("interrupted verdict:\n%s", got)
	}
	if Judge(cut, Policy{}).OK() || !Judge(cut, Policy{}).Interrupted {
		t.Error("an interrupted run is not OK")
	}
}

func TestTerminalTruncatesLongExchanges(t *testing.T) {
	r := small()
	r.Scenarios[1].Steps[0].Exchange.Response = strings.Repeat("line\n", 50)
	got := play(t, TerminalOptions{MaxExchangeLines: 10}, r)
	if strings.Count(got, "               line\n") != 10 || !strings.Contains(got, "… 40 more lines") {
		t.Errorf("truncation:\n%s", got)
	}
}

// Events arrive from parallel workers while the spinner redraws; the race
// detector checks the locking, and every scenario gets exactly one line.
func TestTerminalConcurrentEvents(t *testing.T) {
	var buf testutil.SyncBuffer
	term := NewTerminal(&buf, TerminalOptions{TTY: true, Spin: time.Millisecond, Width: 80})
	r := &scenarios.Report{Target: "embedded"}
	for i := range 40 {
		r.Scenarios = append(r.Scenarios, scenarios.ScenarioResult{Name: fmt.Sprintf("scenario %02d", i), Status: scenarios.Passed})
	}
	term.Start(r.Target, len(r.Scenarios))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(r.Scenarios); i += 4 {
				term.Started(r.Scenarios[i].Name)
				term.Finished(r.Scenarios[i])
			}
		}()
	}
	wg.Wait()
	term.Finish(r)
	out := buf.String()
	for _, s := range r.Scenarios {
		if n := strings.Count(out, "✓ "+s.Name+" "); n != 1 {
			t.Errorf("%s printed %d times", s.Name, n)
		}
	}
	if !strings.Contains(out, "✓ 40 of 40 passed") {
		t.Errorf("verdict:\n%s", out)
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain\ttext\n":    "plain\ttext\n",
		"a\r\nb":           "a\nb",
		"\x1b[2Jboom\x07":  `\x1b[2Jboom\x07`,
		"del\x7f c1\u0085": `del\x7f c1\x85`,
		"ünï":              "ünï",
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTerminalSkipsSummarised: skipped scenarios get one line per reason
// with their count, not one line each; a reason only one scenario has keeps
// its name.
func TestTerminalSkipsSummarised(t *testing.T) {
	r := &scenarios.Report{Target: "http://127.0.0.1:7300", Scenarios: []scenarios.ScenarioResult{
		{Name: "version answers", Status: scenarios.Passed, Duration: 2 * time.Millisecond},
	}}
	noAdmin := "needs admin: no --admin-url given (add --admin-url URL --admin-token TOKEN)"
	for i := range 84 {
		r.Scenarios = append(r.Scenarios, scenarios.ScenarioResult{Name: fmt.Sprintf("admin-%d", i), Status: scenarios.Skipped, Reason: noAdmin})
		if i == 40 {
			r.Scenarios = append(r.Scenarios, scenarios.ScenarioResult{Name: "bound-key", Status: scenarios.Skipped, Reason: "needs second-key: no second API key given"})
		}
	}
	got := play(t, TerminalOptions{}, r)
	want := `Running 86 scenarios against http://127.0.0.1:7300
PASSED   version answers (2ms)
SKIPPED  84 scenarios: ` + noAdmin + `
SKIPPED  bound-key: needs second-key: no second API key given

PASSED  WARNING  FAILED  SKIPPED  DURATION  TARGET
1       0        0       85       <1ms      http://127.0.0.1:7300

OK: 1 of 86 passed (85 skipped)
`
	if got != want {
		t.Errorf("plain output:\n%s\nwant:\n%s", got, want)
	}

	tty := play(t, TerminalOptions{TTY: true, Width: 200}, r)
	if n := strings.Count(tty, "skipped: "); n != 2 {
		t.Errorf("TTY: %d skip lines, want 2:\n%s", n, tty)
	}
	for _, want := range []string{"  ○ 84 scenarios\n      skipped: " + noAdmin + "\n", "  ○ bound-key\n      skipped: needs second-key"} {
		if !strings.Contains(tty, want) {
			t.Errorf("TTY output lacks %q:\n%s", want, tty)
		}
	}
	// On a narrow terminal the reason wraps at spaces: the flags that run
	// the scenarios, at its end, stay whole.
	narrow := play(t, TerminalOptions{TTY: true, Width: 60}, r)
	if !strings.Contains(narrow, "      skipped: needs admin: no --admin-url given (add\n      --admin-url URL --admin-token TOKEN)\n") {
		t.Errorf("narrow TTY: the reason is not wrapped whole:\n%s", narrow)
	}
	// What stays on screen: each line after the progress line's last redraw.
	for _, l := range strings.Split(tty, "\n") {
		if l = l[strings.LastIndex(l, "\x1b[2K")+1:]; strings.Contains(l, "admin-3") {
			t.Errorf("TTY output names a skipped scenario of a group: %q", l)
		}
	}
}
