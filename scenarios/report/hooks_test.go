package report

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paragon-cli/paragon/scenarios"
)

// hookReport is a run of a file whose setup passed, whose one scenario
// passed and whose teardown failed.
func hookReport() *scenarios.Report {
	return &scenarios.Report{
		Target: "embedded reference server", Started: time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC), Duration: 9 * time.Millisecond,
		Scenarios: []scenarios.ScenarioResult{
			{Name: "setup (qa/users.yaml)", Hook: scenarios.HookSetup, File: "qa/users.yaml", Line: 2, Severity: "failure", Status: scenarios.Passed,
				Steps: []scenarios.StepResult{{Name: "login qa", Line: 4, Status: scenarios.Passed}}},
			{Name: "qa-sees-itself", File: "qa/users.yaml", Line: 12, Severity: "failure", Status: scenarios.Passed,
				Steps: []scenarios.StepResult{{Name: "call GET /users", Line: 14, Status: scenarios.Passed}}},
			{Name: "teardown (qa/users.yaml)", Hook: scenarios.HookTeardown, File: "qa/users.yaml", Line: 7, Severity: "failure", Status: scenarios.Failed,
				Steps: []scenarios.StepResult{{Name: "call DELETE /users/qa", Line: 8, Status: scenarios.Failed,
					Failures: []scenarios.Failure{{Expectation: "status 2xx", Expected: "2xx", Actual: "403"}}}}},
		},
	}
}

// A failed teardown fails the run in every report, as its own entry; the
// counts are of scenarios only.
func TestFileHooksInEveryReport(t *testing.T) {
	r := hookReport()
	v := Judge(r, Policy{})
	if v.OK() || v.Total != 1 || v.Failed != 0 || len(v.FailedHooks) != 1 {
		t.Errorf("verdict %+v: a failed teardown fails the run and is not a scenario", v)
	}

	term := play(t, TerminalOptions{}, r)
	for _, want := range []string{"Running 3 scenarios", "PASSED   setup (qa/users.yaml)", "FAILED   teardown (qa/users.yaml)",
		`step "call DELETE /users/qa" (qa/users.yaml:8): status 2xx: expected 2xx, got 403`, "FAIL: teardown (qa/users.yaml) failed"} {
		if !strings.Contains(term, want) {
			t.Errorf("terminal lacks %q:\n%s", want, term)
		}
	}

	var js bytes.Buffer
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	var doc JSONReport
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Counts.Total != 1 || doc.Counts.Passed != 1 || doc.Counts.FailedHooks != 1 || doc.Scenarios[0].Hook != "setup" || doc.Scenarios[2].Hook != "teardown" {
		t.Errorf("json %s", js.String())
	}

	var tap bytes.Buffer
	if err := WriteTAP(&tap, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1..3\n", "ok 1 - setup (qa/users.yaml)\n", "not ok 3 - teardown (qa/users.yaml)\n"} {
		if !strings.Contains(tap.String(), want) {
			t.Errorf("tap lacks %q:\n%s", want, tap.String())
		}
	}

	var html bytes.Buffer
	if err := WriteHTML(&html, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"teardown (qa/users.yaml)", "setup (qa/users.yaml)", "exit status 1: teardown (qa/users.yaml) failed"} {
		if !strings.Contains(html.String(), want) {
			t.Errorf("html lacks %q", want)
		}
	}

	var junit bytes.Buffer
	if err := WriteJUnit(&junit, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<testcase name="setup (qa/users.yaml)"`, `<testcase name="teardown (qa/users.yaml)"`, `<failure message="step &#34;call DELETE /users/qa&#34; (qa/users.yaml:8)`} {
		if !strings.Contains(junit.String(), want) {
			t.Errorf("junit lacks %q:\n%s", want, junit.String())
		}
	}
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint not found: install libxml2-utils to check the JUnit report against the schema")
	}
	file := filepath.Join(t.TempDir(), "junit.xml")
	if err := os.WriteFile(file, junit.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	xsd, _ := filepath.Abs(filepath.Join("testdata", "junit-10.xsd"))
	if out, err := exec.Command(xmllint, "--noout", "--schema", xsd, file).CombinedOutput(); err != nil {
		t.Fatalf("xmllint rejects the report: %v\n%s", err, out)
	}
}
