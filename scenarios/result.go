package scenarios

import "time"

// Status is the outcome of a scenario or a step.
type Status string

// The four outcomes. A scenario whose severity is "warning" reports WARNING
// where it would otherwise have FAILED; a scenario whose needs the target
// lacks is SKIPPED with a reason, never failed.
const (
	Passed  Status = "PASSED"
	Warning Status = "WARNING"
	Failed  Status = "FAILED"
	Skipped Status = "SKIPPED"
)

// Failure is one expectation that did not hold.
type Failure struct {
	Expectation string // what was checked, e.g. `status in [200]`, `json $.token.access_token present`
	Expected    string
	Actual      string
}

// Exchange is one HTTP request and its response, as text with every secret
// masked, for reports.
type Exchange struct {
	Request  string
	Response string
}

// StepResult is the outcome of one step.
type StepResult struct {
	Name     string // the step's name, or its action and main argument ("call GET /users")
	Line     int    // the step's line in the scenario's file; 0 for the setup (given, reset)
	Status   Status
	Duration time.Duration
	Failures []Failure
	Error    string    // the step could not run (e.g. connection refused)
	Exchange *Exchange // the last HTTP exchange of the step, if any
}

// ScenarioResult is the outcome of one scenario.
type ScenarioResult struct {
	Name        string
	File        string // where it came from ("builtin:<file>" for the embedded suite)
	Line        int    // the line of its first key in File
	Description string
	Rule        string
	Severity    string // "failure" or "warning"
	Tags        []string
	// Hook is HookSetup or HookTeardown for the entry of a file's setup or
	// teardown ("setup (FILE)"), "" for a scenario. Counts leaves hooks
	// out; a failed hook fails the run.
	Hook     string
	Status   Status
	Reason   string // why it was skipped, or why it is an expected failure
	Expected bool   // listed in --expected-failures
	Duration time.Duration
	Steps    []StepResult
	// Devices lists the devices the scenario registered on an outside
	// server, so that an operator can remove them afterwards.
	Devices []RegisteredDevice
	// Leftovers says what the scenario created on an outside server and
	// could not remove at its end ("user dinah: DELETE answered 403").
	Leftovers []string
}

// RegisteredDevice is a device a scenario registered.
type RegisteredDevice struct {
	ClientID    string
	Description string
}

// Report is the outcome of a run.
type Report struct {
	Target    string // "embedded reference server" or the server URL
	Started   time.Time
	Duration  time.Duration
	Scenarios []ScenarioResult
	// Interrupted: the run was cancelled (Ctrl-C) before every scenario
	// ended; the rest are SKIPPED with the reason "run cancelled".
	Interrupted bool
	// Policy is what fails the run besides a failed scenario. Run leaves
	// it zero; the caller sets it for the reports that state the exit
	// status (html).
	Policy Policy
}

// Policy says what fails a run besides a failed scenario.
type Policy struct {
	Strict     bool // warnings fail the run (--strict)
	FailOnSkip bool // any skipped scenario fails the run (--fail-on-skip)
	AllowEmpty bool // a run in which every scenario was skipped passes (--allow-empty)
}

// Counts returns how many scenarios ended in each status (a file's setup
// and teardown entries are not scenarios).
func (r *Report) Counts() map[Status]int {
	c := map[Status]int{}
	for _, s := range r.Scenarios {
		if s.Hook == "" {
			c[s.Status]++
		}
	}
	return c
}
