package report

import (
	"encoding/json"
	"io"
	"time"

	"github.com/paragon-cli/paragon/scenarios"
)

// JSONVersion is the version of the JSON report's shape. It changes only
// when a field is removed or changes meaning; new fields may appear anytime.
const JSONVersion = 1

// JSONReport is the document WriteJSON writes. Durations are milliseconds.
type JSONReport struct {
	Version    int        `json:"version"`
	Target     string     `json:"target"`
	Started    *time.Time `json:"started,omitempty"`
	DurationMS float64    `json:"duration_ms"`
	// Interrupted: the run was cancelled before every scenario ended.
	Interrupted bool           `json:"interrupted,omitempty"`
	Counts      JSONCounts     `json:"counts"`
	Scenarios   []JSONScenario `json:"scenarios"`
}

// JSONCounts counts scenarios by status; expected failures are also
// counted under failed.
type JSONCounts struct {
	Total            int `json:"total"`
	Passed           int `json:"passed"`
	Warning          int `json:"warning"`
	Failed           int `json:"failed"`
	Skipped          int `json:"skipped"`
	ExpectedFailures int `json:"expected_failures"`
	// FailedHooks counts the files' setups and teardowns that failed
	// (entries with a hook; the other counts are of scenarios only).
	FailedHooks int `json:"failed_hooks,omitempty"`
}

// JSONScenario is one scenario's result.
type JSONScenario struct {
	Name string `json:"name"`
	// Hook is "setup" or "teardown" for the entry of a file's setup or
	// teardown, which ran once around the file's scenarios.
	Hook            string     `json:"hook,omitempty"`
	File            string     `json:"file,omitempty"`
	Line            int        `json:"line,omitempty"` // of the scenario in file
	Description     string     `json:"description,omitempty"`
	Rule            string     `json:"rule,omitempty"`
	Severity        string     `json:"severity,omitempty"`
	Tags            []string   `json:"tags"`
	Status          string     `json:"status"`
	Reason          string     `json:"reason,omitempty"`
	ExpectedFailure bool       `json:"expected_failure"`
	Message         string     `json:"message,omitempty"`
	DurationMS      float64    `json:"duration_ms"`
	Steps           []JSONStep `json:"steps"`
	// Devices the scenario registered on an outside server, and what it
	// created there and could not remove, for an operator to clean up.
	Devices   []JSONDevice `json:"devices,omitempty"`
	Leftovers []string     `json:"leftovers,omitempty"`
}

// JSONDevice is a device a scenario registered.
type JSONDevice struct {
	ClientID    string `json:"client_id"`
	Description string `json:"description,omitempty"`
}

// JSONStep is one step's result.
type JSONStep struct {
	Name       string        `json:"name"`
	Line       int           `json:"line,omitempty"` // of the step in the scenario's file
	Status     string        `json:"status"`
	DurationMS float64       `json:"duration_ms"`
	Error      string        `json:"error,omitempty"`
	Failures   []JSONFailure `json:"failures,omitempty"`
	Request    string        `json:"request,omitempty"`
	Response   string        `json:"response,omitempty"`
}

// JSONFailure is one expectation that did not hold.
type JSONFailure struct {
	Expectation string `json:"expectation"`
	Expected    string `json:"expected"`
	Actual      string `json:"actual"`
}

// ToJSON converts r into the JSON report's shape.
func ToJSON(r *scenarios.Report) JSONReport {
	out := JSONReport{
		Version:     JSONVersion,
		Target:      r.Target,
		DurationMS:  ms(r.Duration),
		Interrupted: r.Interrupted,
		Scenarios:   make([]JSONScenario, 0, len(r.Scenarios)),
	}
	if !r.Started.IsZero() {
		t := r.Started.UTC()
		out.Started = &t
	}
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		switch {
		case s.Hook != "" && s.Status == scenarios.Failed:
			out.Counts.FailedHooks++
		case s.Hook == "":
			out.Counts.Total++
			countStatus(&out.Counts, s)
		}
		js := JSONScenario{
			Name:            s.Name,
			Hook:            s.Hook,
			File:            s.File,
			Line:            s.Line,
			Description:     s.Description,
			Rule:            s.Rule,
			Severity:        s.Severity,
			Tags:            append([]string{}, s.Tags...),
			Status:          string(s.Status),
			Reason:          s.Reason,
			ExpectedFailure: s.Expected,
			DurationMS:      ms(s.Duration),
			Steps:           make([]JSONStep, 0, len(s.Steps)),
			Leftovers:       s.Leftovers,
		}
		for _, d := range s.Devices {
			js.Devices = append(js.Devices, JSONDevice(d))
		}
		if s.Status == scenarios.Failed || s.Status == scenarios.Warning {
			js.Message = firstProblem(s)
		}
		for _, st := range s.Steps {
			jst := JSONStep{Name: st.Name, Line: st.Line, Status: string(st.Status), DurationMS: ms(st.Duration), Error: st.Error}
			for _, f := range st.Failures {
				jst.Failures = append(jst.Failures, JSONFailure(f))
			}
			if st.Exchange != nil {
				jst.Request, jst.Response = st.Exchange.Request, st.Exchange.Response
			}
			js.Steps = append(js.Steps, jst)
		}
		out.Scenarios = append(out.Scenarios, js)
	}
	return out
}

// countStatus counts a scenario's status.
func countStatus(c *JSONCounts, s *scenarios.ScenarioResult) {
	switch s.Status {
	case scenarios.Passed:
		c.Passed++
	case scenarios.Warning:
		c.Warning++
	case scenarios.Failed:
		c.Failed++
		if s.Expected {
			c.ExpectedFailures++
		}
	case scenarios.Skipped:
		c.Skipped++
	}
}

func init() {
	Register(Writer{Format: "json", Doc: "every scenario, step and exchange as JSON", ToStdout: true, Write: WriteJSON})
}

// WriteJSON writes r as an indented JSON document (see JSONReport).
func WriteJSON(w io.Writer, r *scenarios.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(ToJSON(r))
}

func ms(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
