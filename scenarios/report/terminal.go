package report

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"github.com/paragon-cli/paragon/scenarios"
)

// TerminalOptions configures a Terminal.
type TerminalOptions struct {
	// TTY: the writer is a terminal, so a progress line is redrawn in place
	// and lines are cut to Width. Otherwise every line is plain and final.
	TTY bool
	// Color styles the output with ANSI colours (lipgloss). Only on a TTY.
	Color bool
	// Width is the terminal's width in columns (0: 80).
	Width int
	// Strict: warnings fail the run (said in the verdict).
	Strict bool
	// FailOnSkip: a skipped scenario fails the run; AllowEmpty: a run in
	// which every scenario was skipped passes (both said in the verdict).
	FailOnSkip, AllowEmpty bool
	// Baseline names the expected failures file, for the verdict.
	Baseline string
	// Spin is the spinner's frame interval on a TTY; 0 draws the progress
	// line only when a scenario starts or ends (deterministic, for tests).
	Spin time.Duration
	// MaxExchangeLines caps each request and response shown in the failure
	// digest (0: 30). The report files always carry all of it.
	MaxExchangeLines int
}

// Terminal is the report for a person: a line per scenario as it ends, a
// live progress line on a TTY, then each failure in detail and a summary
// table. Its methods may be called from several goroutines at once (the
// runner's events arrive from parallel workers).
type Terminal struct {
	w    io.Writer
	opts TerminalOptions
	st   styles

	mu        sync.Mutex
	total     int
	done      int
	running   []string
	frame     int
	statusOn  bool // a progress line is on screen, below the last full line
	stop      chan struct{}
	stopped   chan struct{}
	nameWidth int
}

// NewTerminal returns a terminal reporter writing to w.
func NewTerminal(w io.Writer, opts TerminalOptions) *Terminal {
	if !opts.TTY {
		opts.Color = false
		opts.Spin = 0
	}
	if opts.Width <= 0 {
		opts.Width = 80
	}
	if opts.MaxExchangeLines <= 0 {
		opts.MaxExchangeLines = 30
	}
	t := &Terminal{w: w, opts: opts, st: newStyles(w, opts.Color)}
	t.nameWidth = min(max(opts.Width-20, 24), 64)
	return t
}

// Start announces the run. On a TTY with Spin set it starts the spinner,
// which Finish stops.
func (t *Terminal) Start(target string, total int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total = total
	noun := "scenarios"
	if total == 1 {
		noun = "scenario"
	}
	if t.opts.TTY {
		fmt.Fprintf(t.w, "%s %s\n\n", t.st.title.Render("paragon scenarios"),
			t.st.dim.Render(fmt.Sprintf("· %d %s · %s", total, noun, target)))
	} else {
		fmt.Fprintf(t.w, "Running %d %s against %s\n", total, noun, target)
	}
	if t.opts.TTY && t.opts.Spin > 0 && t.stop == nil {
		t.stop, t.stopped = make(chan struct{}), make(chan struct{})
		go t.spin(t.opts.Spin, t.stop, t.stopped)
	}
}

func (t *Terminal) spin(every time.Duration, stop <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			t.mu.Lock()
			t.frame++
			if len(t.running) > 0 {
				t.drawStatus()
			}
			t.mu.Unlock()
		}
	}
}

// Aside runs write, which prints to the terminal or another stream shown
// on it (--verbose's stderr), with the progress line cleared and redrawn
// after it, so neither garbles the other.
func (t *Terminal) Aside(write func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clearStatus()
	write()
	if t.opts.TTY {
		t.drawStatus()
	}
}

// Started records that a scenario began.
func (t *Terminal) Started(name string) {
	name = printable(name)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.running = append(t.running, name)
	if t.opts.TTY {
		t.drawStatus()
	}
}

// Finished prints the line for a scenario that ended; skipped ones are
// counted and summarised by Finish.
func (t *Terminal) Finished(s scenarios.ScenarioResult) {
	s = mapScenario(s, printable)
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, n := range t.running {
		if n == s.Name {
			t.running = append(t.running[:i], t.running[i+1:]...)
			break
		}
	}
	if s.Hook == "" {
		t.done++ // the total counts scenarios, not a file's setup and teardown
	}
	if s.Status == scenarios.Skipped {
		// Skips are summarised by reason at the end: one line per reason,
		// not one per scenario.
		if t.opts.TTY {
			t.drawStatus()
		}
		return
	}
	t.clearStatus()
	if t.opts.TTY {
		t.ttyLine(&s)
		t.drawStatus()
	} else {
		t.plainLine(&s)
	}
}

// ttyLine: "  ✓ name ........ 3ms" and, when it did not pass, why, dimmed.
func (t *Terminal) ttyLine(s *scenarios.ScenarioResult) {
	icon, why := t.st.icon(s), ""
	switch {
	case s.Status == scenarios.Failed && s.Expected:
		why = "expected failure: " + firstProblem(s)
	case s.Status == scenarios.Failed, s.Status == scenarios.Warning:
		why = firstProblem(s)
	case s.Expected:
		why = "passes now: remove it from the expected failures"
	}
	name := ansi.Truncate(oneLine(s.Name), t.nameWidth, "…")
	pad := strings.Repeat(" ", max(t.nameWidth-ansi.StringWidth(name), 0))
	fmt.Fprintf(t.w, "  %s %s%s %s\n", icon, t.st.nameStyle(s).Render(name), pad, t.st.dim.Render(fmt.Sprintf("%6s", shortDuration(s.Duration))))
	if why != "" {
		fmt.Fprintf(t.w, "      %s\n", t.st.whyStyle(s).Render(ansi.Truncate(oneLine(why), t.opts.Width-7, "…")))
	}
}

// plainLine: "FAILED   name (3ms)" and why on the next line, indented.
func (t *Terminal) plainLine(s *scenarios.ScenarioResult) {
	note := ""
	if s.Expected && s.Status == scenarios.Failed {
		note = " [expected failure]"
	} else if s.Expected {
		note = " [passes now: remove it from the expected failures]"
	}
	fmt.Fprintf(t.w, "%-8s %s (%s)%s\n", s.Status, oneLine(s.Name), shortDuration(s.Duration), note)
	if s.Status == scenarios.Failed || s.Status == scenarios.Warning {
		if why := firstProblem(s); why != "" {
			fmt.Fprintf(t.w, "         %s\n", why)
		}
	}
}

// drawStatus redraws the progress line (caller holds mu, TTY only).
func (t *Terminal) drawStatus() {
	if len(t.running) == 0 {
		t.clearStatus()
		return
	}
	frames := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	names := append([]string(nil), t.running...)
	line := fmt.Sprintf("%s %d/%d  %s", frames[t.frame%len(frames)], t.done, t.total, strings.Join(names, ", "))
	line = ansi.Truncate(line, t.opts.Width-1, "…")
	fmt.Fprintf(t.w, "\r\x1b[2K  %s", t.st.progress.Render(line))
	t.statusOn = true
}

func (t *Terminal) clearStatus() {
	if t.statusOn {
		fmt.Fprint(t.w, "\r\x1b[2K")
		t.statusOn = false
	}
}

// Finish stops the progress line and prints the failure digest, the
// summary table and the verdict for r.
func (t *Terminal) Finish(r *scenarios.Report) {
	if t.stop != nil {
		close(t.stop)
		<-t.stopped
		t.stop = nil
	}
	r = mapStrings(r, printable)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clearStatus()
	t.skips(r)
	t.digest(r)
	t.summary(r)
}

// skips prints the skipped scenarios, one line per reason (the reason says
// what to pass to run them): a run without --admin-url skips most of the
// suite for the same reason, and Ctrl-C skips the rest as "run cancelled".
// A reason only one scenario has keeps its name. The report files list
// every skipped scenario.
func (t *Terminal) skips(r *scenarios.Report) {
	var reasons []string
	byReason := map[string][]string{}
	for _, s := range r.Scenarios {
		if s.Status != scenarios.Skipped || s.Hook != "" {
			continue // a skipped setup or teardown follows from its scenarios
		}
		reason := oneLine(s.Reason)
		if _, seen := byReason[reason]; !seen {
			reasons = append(reasons, reason)
		}
		byReason[reason] = append(byReason[reason], oneLine(s.Name))
	}
	for _, reason := range reasons {
		names := byReason[reason]
		what := names[0]
		if len(names) > 1 {
			what = plural(len(names), "scenario", "scenarios")
		}
		if !t.opts.TTY {
			fmt.Fprintf(t.w, "%-8s %s: %s\n", scenarios.Skipped, what, reason)
			continue
		}
		name := ansi.Truncate(what, t.opts.Width-4, "…")
		fmt.Fprintf(t.w, "  %s %s\n", t.st.skip.Render("○"), t.st.dim.Render(name))
		// Wrapped, not cut: the end of the reason says what runs them.
		for _, l := range wrapWords("skipped: "+reason, t.opts.Width-7) {
			fmt.Fprintf(t.w, "      %s\n", t.st.dim.Render(l))
		}
	}
}

func (t *Terminal) digest(r *scenarios.Report) {
	var failed, warned []*scenarios.ScenarioResult
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		switch {
		case s.Status == scenarios.Failed && !s.Expected:
			failed = append(failed, s)
		case s.Status == scenarios.Warning:
			warned = append(warned, s)
		}
	}
	for _, s := range append(failed, warned...) {
		fmt.Fprintln(t.w)
		t.scenarioDetail(s)
	}
}

// scenarioDetail shows one failing or warning scenario: its rule, file, and
// for each problem step the expectation, expected and actual, and the
// masked request and response.
func (t *Terminal) scenarioDetail(s *scenarios.ScenarioResult) {
	st := t.st
	label := st.badge(s.Status)
	fmt.Fprintf(t.w, "%s %s\n", label, st.bold.Render(oneLine(s.Name)))
	field := func(k, v string) {
		if v != "" {
			fmt.Fprintf(t.w, "   %s %s\n", st.dim.Render(fmt.Sprintf("%-9s", k)), v)
		}
	}
	field("rule", oneLine(s.Rule))
	if s.Line > 0 && s.File != "" {
		field("file", fmt.Sprintf("%s:%d", s.File, s.Line))
	} else {
		field("file", s.File)
	}
	if s.Status == scenarios.Warning {
		field("severity", "warning: the vendor leaves this open, so it cannot fail the run")
		if t.opts.Strict {
			field("", "--strict: this warning fails the run")
		}
	}
	const pad = "             " // under the value column
	for _, i := range problemSteps(s) {
		step := s.Steps[i]
		label, name := "step", strconv.Quote(step.Name)
		if step.Name == "" {
			label, name = fmt.Sprintf("step %d", i+1), ""
		}
		if at := stepAt(s, i); at != "" {
			name += " " + st.dim.Render(at)
		}
		fmt.Fprintf(t.w, "   %s %s\n", st.dim.Render(fmt.Sprintf("%-9s", label)), name)
		if step.Error != "" {
			fmt.Fprintf(t.w, "%s%s %s\n", pad, st.bad.Render("error"), step.Error)
		}
		for _, f := range step.Failures {
			fmt.Fprintf(t.w, "%s%s\n", pad, st.bold.Render(oneLine(f.Expectation)))
			fmt.Fprintf(t.w, "%s  %s %s\n", pad, st.good.Render("expected"), multiline(f.Expected, pad+"           "))
			fmt.Fprintf(t.w, "%s  %s %s\n", pad, st.bad.Render("actual  "), multiline(f.Actual, pad+"           "))
		}
		if step.Exchange != nil {
			t.exchange(pad, "request", step.Exchange.Request)
			t.exchange(pad, "response", step.Exchange.Response)
		}
	}
}

func (t *Terminal) exchange(pad, label, text string) {
	text = strings.TrimRight(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	if text == "" {
		return
	}
	fmt.Fprintf(t.w, "%s%s\n", pad, t.st.dim.Render("▸ "+label))
	lines := strings.Split(text, "\n")
	more := 0
	if len(lines) > t.opts.MaxExchangeLines {
		more = len(lines) - t.opts.MaxExchangeLines
		lines = lines[:t.opts.MaxExchangeLines]
	}
	for _, l := range lines {
		if t.opts.TTY {
			l = ansi.Truncate(l, max(t.opts.Width-len(pad)-3, 20), "…")
		}
		fmt.Fprintf(t.w, "%s  %s\n", pad, t.st.exchange.Render(l))
	}
	if more > 0 {
		fmt.Fprintf(t.w, "%s  %s\n", pad, t.st.dim.Render(fmt.Sprintf("… %d more lines (a --report file holds all of it)", more)))
	}
}

// wrapWords breaks s into lines of at most width columns at spaces only
// (flags such as --admin-url stay whole); a longer word is cut.
func wrapWords(s string, width int) []string {
	width = max(width, 20)
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		switch {
		case line == "":
			line = w
		case ansi.StringWidth(line)+1+ansi.StringWidth(w) <= width:
			line += " " + w
		default:
			lines = append(lines, line)
			line = w
		}
	}
	lines = append(lines, line)
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, width, "…")
	}
	return lines
}

// printable makes text from a server safe to print on a terminal: control
// characters other than newline and tab (escape sequences among them) are
// shown as \xNN instead of being obeyed.
func printable(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	if strings.IndexFunc(s, isControl) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isControl(r rune) bool {
	return (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r < 0xa0)
}

// multiline keeps the first line in place and indents the rest under it.
func multiline(s, pad string) string {
	s = strings.TrimRight(s, "\n")
	return strings.ReplaceAll(s, "\n", "\n"+pad)
}

func (t *Terminal) summary(r *scenarios.Report) {
	v := Judge(r, Policy{Strict: t.opts.Strict, FailOnSkip: t.opts.FailOnSkip, AllowEmpty: t.opts.AllowEmpty})
	c := v.Counts
	dur := shortDuration(r.Duration)
	fmt.Fprintln(t.w)
	headers := []string{"PASSED", "WARNING", "FAILED", "SKIPPED"}
	row := []string{strconv.Itoa(c[scenarios.Passed]), strconv.Itoa(c[scenarios.Warning]),
		strconv.Itoa(c[scenarios.Failed] - v.ExpectedFailures), strconv.Itoa(c[scenarios.Skipped])}
	if v.ExpectedFailures > 0 {
		headers = append(headers, "EXPECTED FAILURES")
		row = append(row, strconv.Itoa(v.ExpectedFailures))
	}
	headers = append(headers, "DURATION", "TARGET")
	row = append(row, dur, oneLine(r.Target))
	if t.opts.Color {
		t.colorTable(headers, row)
	} else {
		t.plainTable(headers, row)
	}
	fmt.Fprintln(t.w)
	for _, line := range t.verdict(v, v.Total) {
		fmt.Fprintln(t.w, line)
	}
}

func (t *Terminal) plainTable(headers, row []string) {
	var h, d strings.Builder
	for i := range headers {
		w := max(len(headers[i]), len(row[i]))
		if i == len(headers)-1 {
			h.WriteString(headers[i])
			d.WriteString(row[i])
			break
		}
		fmt.Fprintf(&h, "%-*s  ", w, headers[i])
		fmt.Fprintf(&d, "%-*s  ", w, row[i])
	}
	fmt.Fprintln(t.w, h.String())
	fmt.Fprintln(t.w, d.String())
}

func (t *Terminal) colorTable(headers, row []string) {
	st := t.st
	colour := map[string]lipgloss.Style{
		"PASSED": st.good, "WARNING": st.warn, "FAILED": st.bad, "SKIPPED": st.skip, "EXPECTED FAILURES": st.xfail,
	}
	tb := table.New().
		Border(lipgloss.RoundedBorder()).
		BorderStyle(st.dim).
		Headers(headers...).
		Row(row...).
		StyleFunc(func(r, c int) lipgloss.Style {
			base := st.r.NewStyle().Padding(0, 1)
			if c < len(headers)-2 {
				base = base.Align(lipgloss.Right)
			}
			if r == table.HeaderRow {
				return base.Bold(true)
			}
			if s, ok := colour[headers[c]]; ok && row[c] != "0" {
				return base.Inherit(s).Bold(true)
			}
			if c >= len(headers)-2 {
				return base
			}
			return base.Inherit(st.dim)
		})
	fmt.Fprintln(t.w, tb.Render())
}

// verdict is the last word: did the run pass, and what should be done.
func (t *Terminal) verdict(v Verdict, total int) []string {
	st := t.st
	var out []string
	var extra []string
	if v.Interrupted && v.Failed > 0 {
		extra = append(extra, fmt.Sprintf("%d failed", v.Failed))
	}
	if v.Warnings > 0 {
		extra = append(extra, plural(v.Warnings, "warning", "warnings"))
	}
	if v.ExpectedFailures > 0 {
		extra = append(extra, plural(v.ExpectedFailures, "expected failure", "expected failures"))
	}
	if s := v.Counts[scenarios.Skipped]; s > 0 {
		extra = append(extra, fmt.Sprintf("%d skipped", s))
	}
	tail := ""
	if len(extra) > 0 {
		tail = " (" + strings.Join(extra, ", ") + ")"
	}
	mark := func(ok bool) string {
		if !t.opts.TTY {
			if ok {
				return "OK:"
			}
			return "FAIL:"
		}
		if ok {
			return st.good.Render("✓")
		}
		return st.bad.Render("✗")
	}
	switch {
	case v.Interrupted:
		passed := v.Counts[scenarios.Passed] + v.Warnings
		out = append(out, fmt.Sprintf("%s %s: %d of %d passed before it stopped%s", mark(false), st.bad.Render("interrupted"), passed, total, tail))
	case v.Failed > 0:
		out = append(out, fmt.Sprintf("%s %s of %d failed%s", mark(false), st.bad.Render(plural(v.Failed, "scenario", "scenarios")), total, tail))
	case len(v.FailedHooks) > 0:
		out = append(out, fmt.Sprintf("%s %s failed%s", mark(false), st.bad.Render(strings.Join(v.FailedHooks, ", ")), tail))
	case v.Strict && v.Warnings > 0:
		out = append(out, fmt.Sprintf("%s %s fail the run under --strict%s", mark(false), st.warn.Render(plural(v.Warnings, "warning", "warnings")), tail))
	case v.FailOnSkip && v.Skipped() > 0:
		out = append(out, fmt.Sprintf("%s %s fail the run under --fail-on-skip%s", mark(false), st.bad.Render(plural(v.Skipped(), "skipped scenario", "skipped scenarios")), tail))
	case v.NothingRan() && !v.AllowEmpty:
		what := fmt.Sprintf("all %d selected scenarios were skipped", total)
		if total == 1 {
			what = "the one selected scenario was skipped"
		}
		out = append(out, fmt.Sprintf("%s %s: %s (the reasons are above; --allow-empty accepts a run that tests nothing)", mark(false), st.bad.Render("nothing was tested"), what))
	default:
		passed := total - v.Counts[scenarios.Skipped] - v.ExpectedFailures
		out = append(out, fmt.Sprintf("%s %s%s", mark(true), st.good.Render(fmt.Sprintf("%d of %d passed", passed, total)), tail))
	}
	if len(v.NowPassing) > 0 {
		names := append([]string(nil), v.NowPassing...)
		sort.Strings(names)
		where := "the expected failures"
		if t.opts.Baseline != "" {
			where = t.opts.Baseline
		}
		out = append(out, fmt.Sprintf("%s %s no longer failing; remove from %s: %s",
			st.warn.Render("!"), plural(len(names), "scenario", "scenarios"), where, strings.Join(names, ", ")))
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// shortDuration: "<1ms", "12ms", "1.24s".
func shortDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return "<1ms"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

// styles are the lipgloss styles of the terminal report; with colour off
// every style renders its text unchanged.
type styles struct {
	r                                              *lipgloss.Renderer
	color                                          bool
	title, bold, dim, good, warn, bad, skip, xfail lipgloss.Style
	progress, exchange                             lipgloss.Style
}

func newStyles(w io.Writer, color bool) styles {
	r := lipgloss.NewRenderer(w, termenv.WithProfile(termenv.Ascii))
	if color {
		r.SetColorProfile(termenv.ANSI)
	}
	r.SetHasDarkBackground(true)
	s := styles{r: r, color: color}
	n := r.NewStyle
	if !color {
		plain := n()
		s.title, s.bold, s.dim, s.good, s.warn, s.bad, s.skip, s.xfail = plain, plain, plain, plain, plain, plain, plain, plain
		s.progress, s.exchange = plain, plain
		return s
	}
	s.title = n().Bold(true).Foreground(lipgloss.Color("6"))
	s.bold = n().Bold(true)
	s.dim = n().Faint(true)
	s.good = n().Foreground(lipgloss.Color("2"))
	s.warn = n().Foreground(lipgloss.Color("3"))
	s.bad = n().Foreground(lipgloss.Color("1"))
	s.skip = n().Foreground(lipgloss.Color("4"))
	s.xfail = n().Foreground(lipgloss.Color("5"))
	s.progress = n().Foreground(lipgloss.Color("6"))
	s.exchange = n().Foreground(lipgloss.Color("8"))
	return s
}

// icon is the scenario's status glyph (statusIcon, as in the HTML report)
// in its colour.
func (s styles) icon(r *scenarios.ScenarioResult) string {
	style := s.skip
	switch {
	case r.Status == scenarios.Passed:
		style = s.good
	case r.Status == scenarios.Warning:
		style = s.warn
	case r.Status == scenarios.Failed && r.Expected:
		style = s.xfail
	case r.Status == scenarios.Failed:
		style = s.bad
	}
	return style.Render(statusIcon(r.Status))
}

func (s styles) nameStyle(r *scenarios.ScenarioResult) lipgloss.Style {
	switch {
	case r.Status == scenarios.Failed && !r.Expected:
		return s.bad.Bold(s.color)
	case r.Status == scenarios.Skipped:
		return s.dim
	}
	return s.r.NewStyle()
}

func (s styles) whyStyle(r *scenarios.ScenarioResult) lipgloss.Style {
	switch {
	case r.Status == scenarios.Failed && !r.Expected:
		return s.bad
	case r.Status == scenarios.Warning:
		return s.warn
	}
	return s.dim
}

// badge is the coloured status label in front of a detailed scenario.
func (s styles) badge(st scenarios.Status) string {
	text := " " + string(st) + " "
	if !s.color {
		return string(st)
	}
	switch st {
	case scenarios.Failed:
		return s.r.NewStyle().Bold(true).Foreground(lipgloss.Color("15")).Background(lipgloss.Color("1")).Render(text)
	case scenarios.Warning:
		return s.r.NewStyle().Bold(true).Foreground(lipgloss.Color("0")).Background(lipgloss.Color("3")).Render(text)
	}
	return s.bold.Render(text)
}
