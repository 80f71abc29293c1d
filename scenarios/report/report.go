// Package report renders the results of a scenario run for people and for
// machines: a live terminal reporter with a failure digest and a summary
// table, JUnit XML, JSON and TAP version 13 files for CI, and one
// self-contained HTML page for people (html.go).
//
// Reporters only read a *scenarios.Report; none of them changes it. The
// runner masks secrets in exchanges before they reach a report; Redact adds
// a second pass for secrets the command line knows about.
package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/paragon-cli/paragon/internal/redact"
	"github.com/paragon-cli/paragon/scenarios"
)

// Verdict is what a run means for its exit code.
type Verdict struct {
	Counts           map[scenarios.Status]int // scenarios per status, as reported
	Failed           int                      // FAILED and not an expected failure
	Warnings         int                      // WARNING
	ExpectedFailures int                      // FAILED but listed in the baseline
	NowPassing       []string                 // listed in the baseline but no longer failing
	Interrupted      bool                     // the run was cancelled before it ended
	Total            int                      // scenarios selected
	FailedHooks      []string                 // file setups and teardowns that failed ("teardown (a.yaml)")
	Policy
}

// Policy says what fails a run besides a failed scenario (it is
// scenarios.Policy, so that a Report can carry the policy it was run under).
type Policy = scenarios.Policy

// Skipped is the number of skipped scenarios.
func (v Verdict) Skipped() int { return v.Counts[scenarios.Skipped] }

// NothingRan reports whether every selected scenario was skipped, so the
// run tested nothing.
func (v Verdict) NothingRan() bool { return v.Total > 0 && v.Skipped() == v.Total }

// OK reports whether the run passed: it ran to the end, nothing failed
// unexpectedly, under strict nothing warned, under fail-on-skip nothing was
// skipped, and unless empty runs are allowed something ran.
func (v Verdict) OK() bool {
	switch {
	case v.Interrupted, v.Strict && v.Warnings > 0, v.FailOnSkip && v.Skipped() > 0:
		return false
	case v.NothingRan() && !v.AllowEmpty:
		return false
	}
	return v.Failed == 0 && len(v.FailedHooks) == 0
}

// Judge decides whether r passed under policy p.
func Judge(r *scenarios.Report, p Policy) Verdict {
	v := Verdict{Counts: r.Counts(), Policy: p, Interrupted: r.Interrupted}
	for _, s := range r.Scenarios {
		if s.Hook != "" {
			if s.Status == scenarios.Failed {
				v.FailedHooks = append(v.FailedHooks, s.Name)
			}
			continue
		}
		v.Total++
		switch {
		case s.Status == scenarios.Failed && s.Expected:
			v.ExpectedFailures++
		case s.Status == scenarios.Failed:
			v.Failed++
		case s.Status == scenarios.Warning:
			v.Warnings++
		}
		if s.Expected && (s.Status == scenarios.Passed || s.Status == scenarios.Warning) {
			v.NowPassing = append(v.NowPassing, s.Name)
		}
	}
	return v
}

// Redact returns a deep copy of r in which every occurrence of each
// secret, in any of its encodings (JSON-escaped, percent-encoded), is
// replaced by redact.Mask. Secrets shorter than redact.MinLen characters are
// ignored: masking them would garble ordinary text without protecting much.
func Redact(r *scenarios.Report, secrets ...string) *scenarios.Report {
	set := &redact.Set{}
	for _, s := range secrets {
		set.Add(s)
	}
	return mapStrings(r, set.Scrub)
}

// mapStrings returns a deep copy of r with f applied to every free-text
// string (names, reasons, failures, exchanges; not statuses).
func mapStrings(r *scenarios.Report, f func(string) string) *scenarios.Report {
	out := *r
	out.Target = f(r.Target)
	out.Scenarios = make([]scenarios.ScenarioResult, len(r.Scenarios))
	for i := range r.Scenarios {
		out.Scenarios[i] = mapScenario(r.Scenarios[i], f)
	}
	return &out
}

func mapScenario(s scenarios.ScenarioResult, f func(string) string) scenarios.ScenarioResult {
	s.Name, s.File, s.Description, s.Rule, s.Reason = f(s.Name), f(s.File), f(s.Description), f(s.Rule), f(s.Reason)
	tags := make([]string, len(s.Tags))
	for i, t := range s.Tags {
		tags[i] = f(t)
	}
	s.Tags = tags
	steps := make([]scenarios.StepResult, len(s.Steps))
	for j, st := range s.Steps {
		st.Name = f(st.Name)
		st.Error = f(st.Error)
		fs := make([]scenarios.Failure, len(st.Failures))
		for k, fl := range st.Failures {
			fs[k] = scenarios.Failure{Expectation: f(fl.Expectation), Expected: f(fl.Expected), Actual: f(fl.Actual)}
		}
		st.Failures = fs
		if st.Exchange != nil {
			st.Exchange = &scenarios.Exchange{Request: f(st.Exchange.Request), Response: f(st.Exchange.Response)}
		}
		steps[j] = st
	}
	s.Steps = steps
	return s
}

// problemSteps returns the steps that explain a scenario's status: those
// that failed or warned, or carry failures or an error.
func problemSteps(s *scenarios.ScenarioResult) []int {
	var idx []int
	for i, st := range s.Steps {
		if st.Status == scenarios.Failed || st.Status == scenarios.Warning || len(st.Failures) > 0 || st.Error != "" {
			idx = append(idx, i)
		}
	}
	return idx
}

// stepLabel names step i of s for messages, with where it is written when
// known: `step "login alice" (a.yaml:12)`, or `step 3` when it has no name.
func stepLabel(s *scenarios.ScenarioResult, i int) string {
	name := s.Steps[i].Name
	label := fmt.Sprintf("step %q", name)
	if name == "" {
		label = fmt.Sprintf("step %d", i+1)
	}
	if at := stepAt(s, i); at != "" {
		label += " (" + at + ")"
	}
	return label
}

// stepAt is where step i of s is written, "file:line", or "" when unknown
// (a setup step, or a result built without lines).
func stepAt(s *scenarios.ScenarioResult, i int) string {
	if l := s.Steps[i].Line; l > 0 && s.File != "" {
		return fmt.Sprintf("%s:%d", s.File, l)
	}
	return ""
}

// problemLine is the line of the first step that explains s's status, else
// the scenario's own line (0 when unknown).
func problemLine(s *scenarios.ScenarioResult) int {
	for _, i := range problemSteps(s) {
		if l := s.Steps[i].Line; l > 0 {
			return l
		}
	}
	return s.Line
}

// firstProblem is a one-line account of why s did not pass, or "".
func firstProblem(s *scenarios.ScenarioResult) string {
	for _, i := range problemSteps(s) {
		st := s.Steps[i]
		if st.Error != "" {
			return stepLabel(s, i) + ": " + oneLine(st.Error)
		}
		if len(st.Failures) > 0 {
			f := st.Failures[0]
			return fmt.Sprintf("%s: %s: expected %s, got %s", stepLabel(s, i), oneLine(f.Expectation), oneLine(f.Expected), oneLine(f.Actual))
		}
	}
	if s.Reason != "" {
		return oneLine(s.Reason)
	}
	return ""
}

// hasStepError reports whether s could not run a step at all (as opposed to
// a step that ran and whose expectations did not hold).
func hasStepError(s *scenarios.ScenarioResult) bool {
	for _, i := range problemSteps(s) {
		if s.Steps[i].Error != "" && len(s.Steps[i].Failures) == 0 {
			return true
		}
		if len(s.Steps[i].Failures) > 0 {
			return false
		}
	}
	return false
}

// detail is a multi-line account of every problem in s: each failing
// expectation with expected and actual, then the step's masked exchange.
func detail(s *scenarios.ScenarioResult) string {
	var b strings.Builder
	if s.Rule != "" {
		fmt.Fprintf(&b, "rule: %s\n", s.Rule)
	}
	for _, i := range problemSteps(s) {
		st := s.Steps[i]
		fmt.Fprintf(&b, "%s: %s\n", stepLabel(s, i), st.Status)
		if st.Error != "" {
			fmt.Fprintf(&b, "  error: %s\n", st.Error)
		}
		for _, f := range st.Failures {
			fmt.Fprintf(&b, "  %s\n    expected: %s\n    actual:   %s\n", f.Expectation, f.Expected, f.Actual)
		}
		if st.Exchange != nil {
			if st.Exchange.Request != "" {
				fmt.Fprintf(&b, "  request:\n%s", indent(st.Exchange.Request, "    "))
			}
			if st.Exchange.Response != "" {
				fmt.Fprintf(&b, "  response:\n%s", indent(st.Exchange.Response, "    "))
			}
		}
	}
	return b.String()
}

// indent prefixes every line of text and ends it with a newline.
func indent(text, prefix string) string {
	text = strings.TrimRight(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if l == "" {
			lines[i] = ""
			continue
		}
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// oneLine folds text onto a single line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// seconds formats d in seconds with millisecond precision, as JUnit wants.
func seconds(d time.Duration) string {
	return fmt.Sprintf("%.3f", d.Seconds())
}
