package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/paragon-cli/paragon/scenarios"
)

func init() {
	Register(Writer{Format: "tap", Doc: "Test Anything Protocol", ToStdout: true, Write: WriteTAP})
}

// WriteTAP writes r as TAP version 13, one test point per scenario:
//
//	PASSED            ok N - name
//	FAILED            not ok N - name, with a YAML block: rule, file, the
//	                  failing expectations and the masked exchange
//	expected failure  not ok N - name # TODO expected failure: ...
//	WARNING           not ok N - name # TODO warning: ..., with the YAML block
//	SKIPPED           ok N - name # SKIP reason
//
// A TAP harness counts TODO points as not failing the run, which is what a
// warning and a baseline failure mean here.
func WriteTAP(w io.Writer, r *scenarios.Report) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "TAP version 13\n1..%d\n", len(r.Scenarios))
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		n := i + 1
		name := tapEscape(s.Name)
		switch {
		case s.Status == scenarios.Skipped:
			fmt.Fprintf(bw, "ok %d - %s # SKIP %s\n", n, name, tapEscape(oneLine(s.Reason)))
		case s.Status == scenarios.Failed && s.Expected:
			fmt.Fprintf(bw, "not ok %d - %s # TODO expected failure: %s\n", n, name, tapEscape(firstProblem(s)))
			writeTAPDiag(bw, s)
		case s.Status == scenarios.Failed:
			fmt.Fprintf(bw, "not ok %d - %s\n", n, name)
			writeTAPDiag(bw, s)
		case s.Status == scenarios.Warning:
			fmt.Fprintf(bw, "not ok %d - %s # TODO warning: %s\n", n, name, tapEscape(firstProblem(s)))
			writeTAPDiag(bw, s)
		default:
			fmt.Fprintf(bw, "ok %d - %s\n", n, name)
			if s.Expected {
				fmt.Fprintf(bw, "# %s is listed in the expected failures but passed: remove it from the baseline\n", oneLine(s.Name))
			}
		}
	}
	if r.Target != "" {
		fmt.Fprintf(bw, "# target: %s\n", oneLine(r.Target))
	}
	fmt.Fprintf(bw, "# duration: %ss\n", seconds(r.Duration))
	return bw.Flush()
}

// tapDiag is the YAML block under a test point. Field order is the order a
// reader wants.
type tapDiag struct {
	Status   string       `yaml:"status"`
	Severity string       `yaml:"severity,omitempty"`
	Rule     string       `yaml:"rule,omitempty"`
	File     string       `yaml:"file,omitempty"`
	Line     int          `yaml:"line,omitempty"` // of the first failing step, else of the scenario
	Reason   string       `yaml:"reason,omitempty"`
	Duration float64      `yaml:"duration_ms"`
	Failures []tapFailure `yaml:"failures,omitempty"`
}

type tapFailure struct {
	Step        string `yaml:"step"`
	Error       string `yaml:"error,omitempty"`
	Expectation string `yaml:"expectation,omitempty"`
	Expected    string `yaml:"expected,omitempty"`
	Actual      string `yaml:"actual,omitempty"`
	Request     string `yaml:"request,omitempty"`
	Response    string `yaml:"response,omitempty"`
}

func writeTAPDiag(w io.Writer, s *scenarios.ScenarioResult) {
	d := tapDiag{
		Status:   string(s.Status),
		Severity: s.Severity,
		Rule:     s.Rule,
		File:     s.File,
		Line:     problemLine(s),
		Reason:   s.Reason,
		Duration: ms(s.Duration),
	}
	for _, i := range problemSteps(s) {
		st := s.Steps[i]
		base := tapFailure{Step: stepLabel(s, i), Error: st.Error}
		if st.Exchange != nil {
			base.Request, base.Response = tapBlock(st.Exchange.Request), tapBlock(st.Exchange.Response)
		}
		if len(st.Failures) == 0 {
			d.Failures = append(d.Failures, base)
			continue
		}
		for k, f := range st.Failures {
			e := base
			e.Expectation, e.Expected, e.Actual = f.Expectation, f.Expected, f.Actual
			if k > 0 { // the exchange once per step is enough
				e.Request, e.Response = "", ""
			}
			d.Failures = append(d.Failures, e)
		}
	}
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(d); err != nil { // strings and numbers always encode; keep the stream valid anyway
		b.Reset()
		fmt.Fprintf(&b, "error: %q\n", err.Error())
	}
	fmt.Fprintf(w, "  ---\n%s  ...\n", indent(b.String(), "  "))
}

// tapBlock normalises an exchange so YAML can keep it as a literal block.
func tapBlock(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.Join(lines, "\n")
}

// tapEscape keeps a description on one line and stops a '#' in it from
// being read as a directive.
func tapEscape(s string) string {
	s = oneLine(s)
	s = strings.ReplaceAll(s, `\`, `\\`)
	return strings.ReplaceAll(s, "#", `\#`)
}
