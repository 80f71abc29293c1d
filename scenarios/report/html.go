package report

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/paragon-cli/paragon/scenarios"
)

// The HTML report (--report html=FILE) is one self-contained file: its
// style and script are inline, allowed by a Content-Security-Policy that
// names their hashes and nothing else, so it opens from a CI artifact with
// no network and runs no other script. It works without the script (every
// scenario shown, failing ones open); the script adds the filters.

//go:embed html/report.html.tmpl html/report.css html/report.js
var htmlFS embed.FS

var (
	htmlTmpl = template.Must(template.ParseFS(htmlFS, "html/report.html.tmpl"))
	htmlCSS  = mustRead("html/report.css")
	htmlJS   = mustRead("html/report.js")
	// htmlCSP allows the inline style and script by hash, and nothing
	// else: no network, no other script, no form submission.
	htmlCSP = fmt.Sprintf("default-src 'none'; style-src '%s'; script-src '%s'; img-src data:; base-uri 'none'; form-action 'none'",
		cspHash(htmlCSS), cspHash(htmlJS))
)

func mustRead(name string) string {
	b, err := htmlFS.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// cspHash is a Content-Security-Policy source for an inline element's text.
func cspHash(text string) string {
	sum := sha256.Sum256([]byte(text))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

func init() {
	Register(Writer{Format: "html", Doc: "one self-contained HTML page, with filters, for people", Write: WriteHTML})
}

type htmlPage struct {
	Title, Target, Started, Duration string
	Total                            int
	OK                               bool
	Exit                             int
	ExitText                         string
	Counts                           []htmlCount
	Tags                             []string
	Scenarios                        []htmlScenario
	CSP                              string
	CSS                              template.CSS
	JS                               template.JS
}

type htmlCount struct {
	Status, Class, Icon, Percent string
	N                            int
}

type htmlScenario struct {
	ID, Name, Search, Status, Label, Class, Icon, Duration, Why string
	Description, Rule, Severity, At, Reason, TagList            string
	Tags                                                        []string
	Open                                                        bool
	Steps                                                       []htmlStep
	Problems                                                    []htmlStep
}

type htmlStep struct {
	ID, Name, At, Status, Class, Icon, Duration, Error, Request, Response string
	N                                                                     int
	Failures                                                              []scenarios.Failure
}

var statusOrder = []scenarios.Status{scenarios.Failed, scenarios.Warning, scenarios.Passed, scenarios.Skipped}

// statusIcon is the glyph of a status, in the HTML and the terminal reports.
func statusIcon(s scenarios.Status) string {
	switch s {
	case scenarios.Passed:
		return "✓"
	case scenarios.Warning:
		return "!"
	case scenarios.Failed:
		return "✗"
	}
	return "○"
}

var nonID = regexp.MustCompile(`[^a-z0-9_-]+`)

// WriteHTML writes r as one self-contained HTML page: the target, time,
// counts and exit status at the top, filters by status, tag and name, and
// each scenario with its rule, severity and steps; failing and warning ones
// are open, with each problem step's expectations and masked request and
// response. The exit status is Judge(r, r.Policy)'s.
func WriteHTML(w io.Writer, r *scenarios.Report) error {
	v := Judge(r, r.Policy)
	p := htmlPage{
		Title:    "paragon scenarios: " + r.Target,
		Target:   r.Target,
		Duration: shortDuration(r.Duration),
		Total:    v.Total,
		OK:       v.OK(),
		CSP:      htmlCSP,
		CSS:      template.CSS(htmlCSS),
		JS:       template.JS(htmlJS),
	}
	if !r.Started.IsZero() {
		p.Started = r.Started.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	p.Exit, p.ExitText = htmlExit(v)
	for _, st := range statusOrder {
		pct := "0%"
		if p.Total > 0 {
			pct = fmt.Sprintf("%.0f%%", 100*float64(v.Counts[st])/float64(p.Total))
		}
		p.Counts = append(p.Counts, htmlCount{Status: string(st), Class: strings.ToLower(string(st)), Icon: statusIcon(st), N: v.Counts[st], Percent: pct})
	}
	tags := map[string]bool{}
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		for _, t := range s.Tags {
			tags[t] = true
		}
		p.Scenarios = append(p.Scenarios, htmlScenarioOf(s, i))
	}
	for t := range tags {
		p.Tags = append(p.Tags, t)
	}
	slices.Sort(p.Tags)
	return htmlTmpl.Execute(w, p)
}

// htmlExit is the exit status of the run and why.
func htmlExit(v Verdict) (int, string) {
	switch {
	case v.Interrupted:
		return 1, "the run was interrupted"
	case v.Failed > 0:
		return 1, plural(v.Failed, "scenario", "scenarios") + " failed"
	case len(v.FailedHooks) > 0:
		return 1, strings.Join(v.FailedHooks, ", ") + " failed"
	case v.Strict && v.Warnings > 0:
		return 1, "--strict: " + plural(v.Warnings, "warning", "warnings") + " fail the run"
	case v.FailOnSkip && v.Skipped() > 0:
		return 1, "--fail-on-skip: " + plural(v.Skipped(), "skipped scenario fails", "skipped scenarios fail") + " the run"
	case v.NothingRan() && !v.AllowEmpty:
		return 1, "every scenario was skipped: nothing was tested"
	}
	text := "nothing failed"
	if v.Warnings > 0 {
		text += ", " + plural(v.Warnings, "warning", "warnings")
	}
	if v.ExpectedFailures > 0 {
		text += ", " + plural(v.ExpectedFailures, "expected failure", "expected failures")
	}
	return 0, text
}

func htmlScenarioOf(s *scenarios.ScenarioResult, i int) htmlScenario {
	class := strings.ToLower(string(s.Status))
	label := string(s.Status)
	if s.Status == scenarios.Failed && s.Expected {
		class, label = "xfail", "FAILED (expected)"
	}
	hs := htmlScenario{
		ID:          fmt.Sprintf("s%d-%s", i+1, nonID.ReplaceAllString(strings.ToLower(s.Name), "-")),
		Name:        s.Name,
		Search:      strings.ToLower(s.Name),
		Status:      string(s.Status),
		Label:       label,
		Class:       class,
		Icon:        statusIcon(s.Status),
		Duration:    shortDuration(s.Duration),
		Description: s.Description,
		Rule:        s.Rule,
		Severity:    s.Severity,
		Reason:      s.Reason,
		Tags:        s.Tags,
		TagList:     strings.Join(s.Tags, " "),
		Open:        s.Status == scenarios.Failed || s.Status == scenarios.Warning,
	}
	if s.File != "" {
		hs.At = s.File
		if s.Line > 0 {
			hs.At = fmt.Sprintf("%s:%d", s.File, s.Line)
		}
	}
	switch {
	case s.Status == scenarios.Failed || s.Status == scenarios.Warning:
		hs.Why = firstProblem(s)
	case s.Expected:
		hs.Why = "listed as an expected failure but passes now: remove it from the expected failures"
	case s.Status == scenarios.Skipped:
		hs.Why = s.Reason
	}
	for j, st := range s.Steps {
		hs.Steps = append(hs.Steps, htmlStepOf(s, j, st, hs.ID))
	}
	if hs.Open {
		for _, j := range problemSteps(s) {
			hs.Problems = append(hs.Problems, htmlStepOf(s, j, s.Steps[j], hs.ID))
		}
	}
	return hs
}

func htmlStepOf(s *scenarios.ScenarioResult, j int, st scenarios.StepResult, id string) htmlStep {
	h := htmlStep{
		ID:       fmt.Sprintf("%s-%d", id, j+1),
		N:        j + 1,
		Name:     st.Name,
		At:       stepAt(s, j),
		Status:   string(st.Status),
		Class:    strings.ToLower(string(st.Status)),
		Icon:     statusIcon(st.Status),
		Duration: shortDuration(st.Duration),
		Error:    st.Error,
		Failures: st.Failures,
	}
	if st.Status == scenarios.Skipped {
		h.Duration = ""
	}
	if st.Exchange != nil {
		h.Request, h.Response = st.Exchange.Request, st.Exchange.Response
	}
	return h
}
