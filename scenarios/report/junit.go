package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/paragon-cli/paragon/scenarios"
)

// The JUnit document, shaped by the Jenkins xUnit schema (junit-10.xsd).
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	File       string          `xml:"file,attr,omitempty"`
	Properties *junitProps     `xml:"properties,omitempty"`
	Cases      []junitTestCase `xml:"testcase"`
}

type junitProps struct {
	Props []junitProp `xml:"property"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitTestCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitProblem `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

// junitText is element text kept readable as CDATA; xmlText has already
// removed what XML cannot carry.
type junitText struct {
	Text string `xml:",cdata"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",cdata"`
}

func init() {
	Register(Writer{Format: "junit", Doc: "JUnit XML, for CI servers", ToStdout: false, Write: WriteJUnit})
}

// WriteJUnit writes r as JUnit XML: one testsuite per scenario file, one
// testcase per scenario. FAILED becomes a failure (or an error when a step
// could not run at all), SKIPPED and expected failures become skipped with
// the reason, and WARNING passes with the warning in system-out. Times are in
// seconds. The document validates against the Jenkins xUnit JUnit schema.
func WriteJUnit(w io.Writer, r *scenarios.Report) error {
	doc := junitSuites{Name: "paragon scenarios", Time: seconds(r.Duration)}
	byFile := map[string]int{}
	var durations []time.Duration
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		idx, ok := byFile[s.File]
		if !ok {
			idx = len(doc.Suites)
			byFile[s.File] = idx
			suite := junitSuite{Name: suiteName(s.File), File: s.File}
			if !r.Started.IsZero() {
				suite.Timestamp = r.Started.UTC().Format(time.RFC3339)
			}
			if r.Target != "" {
				suite.Properties = &junitProps{Props: []junitProp{{Name: "target", Value: r.Target}}}
			}
			doc.Suites = append(doc.Suites, suite)
			durations = append(durations, 0)
		}
		durations[idx] += s.Duration
		suite := &doc.Suites[idx]
		tc := junitCase(s)
		suite.Tests++
		switch {
		case tc.Failure != nil:
			suite.Failures++
		case tc.Error != nil:
			suite.Errors++
		case tc.Skipped != nil:
			suite.Skipped++
		}
		suite.Cases = append(suite.Cases, tc)
	}
	for i := range doc.Suites {
		s := &doc.Suites[i]
		s.Time = seconds(durations[i])
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("junit report: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func junitCase(s *scenarios.ScenarioResult) junitTestCase {
	tc := junitTestCase{Name: s.Name, Classname: classname(s.File), Time: seconds(s.Duration)}
	var out []string
	switch s.Status {
	case scenarios.Failed:
		p := &junitProblem{Message: firstProblem(s), Text: xmlText(detail(s))}
		switch {
		case s.Expected:
			p.Message = "expected failure: " + p.Message
			if s.Reason != "" {
				p.Message = "expected failure (" + oneLine(s.Reason) + "): " + firstProblem(s)
			}
			tc.Skipped = p
		case hasStepError(s):
			p.Type = "error"
			tc.Error = p
		default:
			p.Type = "failure"
			tc.Failure = p
		}
	case scenarios.Skipped:
		tc.Skipped = &junitProblem{Message: oneLine(s.Reason)}
	case scenarios.Warning:
		out = append(out, "WARNING: "+firstProblem(s), detail(s))
	}
	if s.Expected && s.Status != scenarios.Failed {
		out = append(out, "listed in the expected failures but did not fail: remove it from the baseline")
	}
	if len(out) > 0 {
		tc.SystemOut = &junitText{Text: xmlText(strings.Join(out, "\n"))}
	}
	return tc
}

// suiteName names the testsuite for a scenario file.
func suiteName(file string) string {
	if file == "" {
		return "scenarios"
	}
	return file
}

// classname turns a scenario file into a dotted JUnit class name that CI
// servers group nicely: "builtin:login.yaml" → "builtin.login",
// "suites/acme/refresh.yml" → "suites.acme.refresh".
func classname(file string) string {
	if file == "" {
		return "scenarios"
	}
	f := strings.ReplaceAll(file, "\\", "/")
	f = strings.Replace(f, ":", "/", 1)
	f = strings.TrimSuffix(f, path.Ext(f))
	var parts []string
	for _, p := range strings.Split(f, "/") {
		if p == "" || p == "." || p == ".." {
			continue
		}
		parts = append(parts, strings.ReplaceAll(p, ".", "_"))
	}
	if len(parts) == 0 {
		return "scenarios"
	}
	return strings.Join(parts, ".")
}

// xmlText replaces the characters XML 1.0 cannot carry (most control
// characters, lone surrogates, U+FFFE and U+FFFF) with U+FFFD, so text can go
// into CDATA sections, which encoding/xml writes unchecked.
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20, r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
			return '\uFFFD'
		}
		return r
	}, s)
}
