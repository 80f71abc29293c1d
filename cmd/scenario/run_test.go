package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/scenarios"
)

// execute runs `paragon scenario ARGS` the way cmd/root does (flag errors
// are usage errors) and returns the exit code.
func execute(t *testing.T, ios *iostreams.IOStreams, build func(*cmdutil.Factory) *cobra.Command, args ...string) (int, error) {
	t.Helper()
	f := &cmdutil.Factory{IOStreams: ios}
	root := &cobra.Command{Use: "paragon", SilenceErrors: true, SilenceUsage: true}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	root.AddCommand(build(f))
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	code := cmdutil.ExitCode(err)
	if err != nil && strings.HasPrefix(err.Error(), "unknown ") {
		code = cmdutil.ExitUsage
	}
	return code, err
}

func group(f *cmdutil.Factory) *cobra.Command { return NewCmdScenario(f) }

func TestRunFlags(t *testing.T) {
	t.Setenv("PARAGON_API_KEY", "")
	t.Setenv("PARAGON_ADMIN_TOKEN", "")
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string // substring; "" means the flags are accepted
		check   func(*testing.T, *RunOptions)
	}{
		{name: "defaults", args: nil, check: func(t *testing.T, o *RunOptions) {
			if o.Parallel != 1 || o.Server != "" || o.ShardCount != 0 || len(o.Reports) != 0 || o.Strict || o.FailFast {
				t.Errorf("defaults %+v", o)
			}
		}},
		{name: "everything", args: []string{"a.yaml", "dir", "--server", "https://s:7300", "--oauth-url", "https://s:7400",
			"--api-key", "k1", "--admin-url", "https://s:7300", "--admin-token", "t1", "--parallel", "4", "--shard", "2/4",
			"--tag", "login", "--tag", "refresh", "--name", "rot", "--name", "^login-", "--fail-fast", "--strict",
			"--expected-failures", "base.txt", "--report", "junit=j.xml", "--report", "JSON=-", "--report", "tap=t.tap", "--no-device-keys", "--second-api-key", "k2"},
			check: func(t *testing.T, o *RunOptions) {
				if strings.Join(o.Paths, ",") != "a.yaml,dir" || o.Server != "https://s:7300" || o.OAuthURL != "https://s:7400" ||
					o.APIKey != "k1" || o.AdminURL != "https://s:7300" || o.AdminToken != "t1" || o.Parallel != 4 ||
					o.ShardIndex != 2 || o.ShardCount != 4 || strings.Join(o.Tags, ",") != "login,refresh" ||
					strings.Join(o.Names, ",") != "rot,^login-" || !o.FailFast || !o.Strict || o.ExpectedFailures != "base.txt" ||
					!o.NoDeviceKeys || o.SecondAPIKey != "k2" || len(o.Reports) != 3 || o.Reports[1] != (ReportSpec{Format: "json", Path: "-"}) {
					t.Errorf("options %+v", o)
				}
			}},
		{name: "secrets from the environment", args: []string{"--server", "http://s", "--admin-url", "http://s"},
			env: map[string]string{"PARAGON_API_KEY": "envkey", "PARAGON_ADMIN_TOKEN": "envtok"},
			check: func(t *testing.T, o *RunOptions) {
				if o.APIKey != "envkey" || o.AdminToken != "envtok" {
					t.Errorf("env secrets not used: %+v", o)
				}
			}},
		{name: "flag beats environment", args: []string{"--server", "http://s", "--api-key", "flagkey"},
			env: map[string]string{"PARAGON_API_KEY": "envkey"},
			check: func(t *testing.T, o *RunOptions) {
				if o.APIKey != "flagkey" {
					t.Errorf("api key %q", o.APIKey)
				}
			}},
		{name: "environment ignored for the embedded server", args: nil,
			env: map[string]string{"PARAGON_API_KEY": "envkey", "PARAGON_ADMIN_TOKEN": "envtok"},
			check: func(t *testing.T, o *RunOptions) {
				if o.APIKey != "" || o.AdminToken != "" {
					t.Errorf("env secrets leaked into an embedded run: %+v", o)
				}
			}},
		{name: "bad shard", args: []string{"--shard", "3"}, wantErr: `--shard: expected I/N such as 2/4, got "3"`},
		{name: "shard out of range", args: []string{"--shard", "5/4"}, wantErr: "--shard 5/4: expected 1 ≤ I ≤ N"},
		{name: "shard zero", args: []string{"--shard", "0/4"}, wantErr: "expected 1 ≤ I ≤ N"},
		{name: "shard not numbers", args: []string{"--shard", "a/b"}, wantErr: "expected I/N"},
		{name: "unknown report format", args: []string{"--report", "xml=x.xml"}, wantErr: `unknown format "xml" (expected html, json, junit or tap)`},
		{name: "html to stdout", args: []string{"--report", "html=-"}, wantErr: "--report html=-: HTML goes to a file; use json=- or tap=- for stdout"},
		{name: "report without file", args: []string{"--report", "junit"}, wantErr: "expected FORMAT=FILE"},
		{name: "junit to stdout", args: []string{"--report", "junit=-"}, wantErr: "JUnit goes to a file"},
		{name: "two reports on stdout", args: []string{"--report", "json=-", "--report", "tap=-"}, wantErr: "only one report can go to stdout"},
		{name: "admin token without admin url", args: []string{"--server", "http://s", "--admin-token", "t"}, wantErr: "--admin-token needs --admin-url"},
		{name: "admin url without token", args: []string{"--server", "http://s", "--admin-url", "http://s"}, wantErr: "--admin-url needs --admin-token"},
		{name: "api key without server", args: []string{"--api-key", "k"}, wantErr: "--api-key needs --server"},
		{name: "second key without server", args: []string{"--second-api-key", "k"}, wantErr: "--second-api-key needs --server"},
		{name: "oauth url without server", args: []string{"--oauth-url", "http://o"}, wantErr: "--oauth-url needs --server"},
		{name: "parallel zero", args: []string{"--parallel", "0"}, wantErr: "--parallel must be at least 1"},
		{name: "parallel not a number", args: []string{"--parallel", "many"}, wantErr: "invalid argument"},
		{name: "unknown flag", args: []string{"--colour"}, wantErr: "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			ios, _, _, _ := iostreams.Test()
			var got *RunOptions
			code, err := execute(t, ios, func(f *cmdutil.Factory) *cobra.Command {
				return NewCmdRun(f, func(_ context.Context, o *RunOptions) error { got = o; return nil })
			}, append([]string{"run"}, tt.args...)...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				if code != cmdutil.ExitUsage {
					t.Fatalf("exit %d, want %d", code, cmdutil.ExitUsage)
				}
				if got != nil {
					t.Fatal("the run function was called despite a usage error")
				}
				return
			}
			if err != nil || got == nil {
				t.Fatalf("err %v, run called %v", err, got != nil)
			}
			tt.check(t, got)
		})
	}
}

// fakeRunner returns a runner that emits events for and returns rep.
func fakeRunner(rep *scenarios.Report, err error) func(context.Context, []*scenarios.Scenario, scenarios.RunOptions) (*scenarios.Report, error) {
	return func(_ context.Context, list []*scenarios.Scenario, o scenarios.RunOptions) (*scenarios.Report, error) {
		if rep == nil {
			return nil, err
		}
		for i := range rep.Scenarios {
			o.Baseline.Mark(&rep.Scenarios[i]) // as scenarios.Run does
			sc := &scenarios.Scenario{Name: rep.Scenarios[i].Name}
			o.OnEvent(scenarios.Event{Kind: scenarios.ScenarioStarted, Index: i, Total: len(rep.Scenarios), Scenario: sc})
			o.OnEvent(scenarios.Event{Kind: scenarios.ScenarioFinished, Index: i, Total: len(rep.Scenarios), Scenario: sc, Result: &rep.Scenarios[i]})
		}
		return rep, err
	}
}

func fakeReport() *scenarios.Report {
	return &scenarios.Report{
		Target:   "embedded reference server",
		Duration: 1500 * time.Millisecond,
		Scenarios: []scenarios.ScenarioResult{
			{Name: "version-answers", File: "builtin:smoke.yaml", Status: scenarios.Passed, Duration: 3 * time.Millisecond},
			{Name: "rotation", File: "builtin:refresh.yaml", Rule: "§3.4 [ours]", Severity: "warning", Status: scenarios.Warning, Duration: 2 * time.Millisecond,
				Steps: []scenarios.StepResult{{Name: "replay", Status: scenarios.Warning,
					Failures: []scenarios.Failure{{Expectation: "status in [400]", Expected: "400", Actual: "200"}}}}},
			{Name: "clock-skew", File: "builtin:refresh.yaml", Status: scenarios.Skipped, Reason: "needs clock: no --admin-url given"},
		},
	}
}

func withFailure(rep *scenarios.Report) *scenarios.Report {
	rep.Scenarios = append(rep.Scenarios, scenarios.ScenarioResult{
		Name: "login-needs-device-token", File: "builtin:login.yaml", Rule: "§2 [doc]", Status: scenarios.Failed, Duration: 4 * time.Millisecond,
		Steps: []scenarios.StepResult{{Name: "login", Status: scenarios.Failed,
			Failures: []scenarios.Failure{{Expectation: "status in [403]", Expected: "403", Actual: "200"}},
			Exchange: &scenarios.Exchange{Request: "POST /api/v1/login\nX-Api-Key: top-secret-key\nX-Second: second-secret-key", Response: "HTTP/1.1 200 OK"}}},
	})
	return rep
}

// runWith runs runRun with a fake runner over the built-in suite.
func runWith(t *testing.T, tty bool, rep *scenarios.Report, runErr error, mutate func(*RunOptions)) (int, string, string, error) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	ios.SetTTY(tty)
	opts := &RunOptions{IO: ios, Parallel: 1, Runner: fakeRunner(rep, runErr)}
	if mutate != nil {
		mutate(opts)
	}
	err := runRun(context.Background(), opts)
	return cmdutil.ExitCode(err), out.String(), errOut.String(), err
}

// Ctrl-C or SIGTERM while the target is checked is an interruption, not an
// unreachable server to check.
func TestInterruptedBeforeTheFirstScenario(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	unreachable := &scenarios.UnreachableError{Service: scenarios.ServiceAPI, URL: "http://127.0.0.1:1", Err: context.Canceled}
	err := runRun(ctx, &RunOptions{IO: ios, Parallel: 1, Runner: fakeRunner(nil, unreachable)})
	if err == nil || !strings.Contains(err.Error(), "interrupted") || strings.Contains(err.Error(), "check --server") || out.Len() > 0 {
		t.Errorf("err %v, stdout %q", err, out)
	}
}

func TestRunOutputNotTTY(t *testing.T) {
	code, out, errOut, err := runWith(t, false, fakeReport(), nil, nil)
	if code != 0 || err != nil {
		t.Fatalf("exit %d, err %v", code, err)
	}
	n := len(mustBuiltin(t))
	want := "Running " + plural(n, "scenario", "scenarios") + ` against embedded reference server
PASSED   version-answers (3ms)
WARNING  rotation (2ms)
         step "replay": status in [400]: expected 400, got 200
SKIPPED  clock-skew: needs clock: no --admin-url given

WARNING rotation
   rule      §3.4 [ours]
   file      builtin:refresh.yaml
   severity  warning: the vendor leaves this open, so it cannot fail the run
   step      "replay"
             status in [400]
               expected 400
               actual   200

PASSED  WARNING  FAILED  SKIPPED  DURATION  TARGET
1       1        0       1        1.50s     embedded reference server

OK: 2 of 3 passed (1 warning, 1 skipped)
`
	if out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}
	if errOut != "" {
		t.Errorf("stderr %q", errOut)
	}
}

func TestRunOutputTTY(t *testing.T) {
	for _, colour := range []bool{false, true} {
		ios, _, stdout, _ := iostreams.Test()
		ios.SetTTY(true)
		ios.SetNoColor(!colour)
		err := runRun(context.Background(), &RunOptions{IO: ios, Parallel: 1, Runner: fakeRunner(withFailure(fakeReport()), nil)})
		if code := cmdutil.ExitCode(err); code != cmdutil.ExitFailure {
			t.Fatalf("colour %v: exit %d, want 1", colour, code)
		}
		out := stdout.String()
		plain := out
		if colour {
			plain = stripSGR(out)
		}
		for _, want := range []string{
			"paragon scenarios · ", "\r\x1b[2K", "  ✓ version-answers", "  ! rotation", "  ○ clock-skew", "  ✗ login-needs-device-token",
			"FAILED", "▸ request", "✗ 1 scenario of 4 failed (1 warning, 1 skipped)",
		} {
			if !strings.Contains(plain, want) {
				t.Errorf("colour %v: TTY output lacks %q:\n%s", colour, want, out)
			}
		}
		hasSGR := strings.Contains(out, "\x1b[1m") || strings.Contains(out, "\x1b[32m")
		if hasSGR != colour {
			t.Errorf("colour %v but SGR sequences present=%v:\n%q", colour, hasSGR, out)
		}
		if colour && !strings.Contains(out, "╭") {
			t.Errorf("no summary table:\n%s", out)
		}
	}
}

// stripSGR removes colour sequences (ESC [ ... m), keeping the others.
func stripSGR(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == ';') {
				j++
			}
			if j < len(s) && s[j] == 'm' {
				i = j
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestRunExitCodes(t *testing.T) {
	unreachable := errors.Join(scenarios.ErrUnreachable, errors.New("dial tcp 127.0.0.1:9: connection refused"))
	tests := []struct {
		name   string
		rep    *scenarios.Report
		err    error
		mutate func(*RunOptions)
		want   int
	}{
		{"all passed, warnings allowed", fakeReport(), nil, nil, 0},
		{"a failure", withFailure(fakeReport()), nil, nil, 1},
		{"strict turns warnings into failure", fakeReport(), nil, func(o *RunOptions) { o.Strict = true }, 1},
		{"unreachable target", nil, unreachable, nil, 3},
		{"unreachable admin API", nil, &scenarios.UnreachableError{Service: scenarios.ServiceAdmin, URL: "http://a", Err: errors.New("refused")}, nil, 3},
		{"admin token refused", nil, fmt.Errorf("%w: the admin API at http://a answered 401", scenarios.ErrAdminTokenRefused), nil, 2},
		{"other runner error", nil, errors.New("boom"), nil, 1},
		{"interrupted with a partial report", fakeReport(), context.Canceled, nil, 1},
		{"no scenario matches", fakeReport(), nil, func(o *RunOptions) { o.Tags = []string{"no-such-tag"} }, 2},
		{"missing baseline file", fakeReport(), nil, func(o *RunOptions) { o.ExpectedFailures = filepath.Join(t.TempDir(), "none.txt") }, 2},
		{"missing scenario path", fakeReport(), nil, func(o *RunOptions) { o.Paths = []string{filepath.Join(t.TempDir(), "none.yaml")} }, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut, err := runWith(t, false, tt.rep, tt.err, tt.mutate)
			if code != tt.want {
				t.Fatalf("exit %d, want %d (err %v)\nstdout:\n%s\nstderr:\n%s", code, tt.want, err, out, errOut)
			}
			if tt.rep == nil && out != "" {
				t.Errorf("a run that could not start printed a report:\n%s", out)
			}
		})
	}
}

func TestExpectedFailures(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "known-gaps.txt")
	content := "# a known-imperfect server\nlogin-needs-device-token   # ticket 12\n\nversion-answers\nno-such-scenario\n"
	if err := os.WriteFile(base, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	jsonFile := filepath.Join(dir, "r.json")
	suite := suiteFor(t, "version-answers", "rotation", "clock-skew", "login-needs-device-token")
	code, out, errOut, err := runWith(t, false, withFailure(fakeReport()), nil, func(o *RunOptions) {
		o.Paths = []string{suite}
		o.ExpectedFailures = base
		o.Reports = []ReportSpec{{Format: "json", Path: jsonFile}}
	})
	if code != 0 {
		t.Fatalf("a listed failure must not fail the run: exit %d, err %v\n%s", code, err, out)
	}
	for _, want := range []string{
		"FAILED   login-needs-device-token (4ms) [expected failure]",
		"PASSED   version-answers (3ms) [passes now: remove it from the expected failures]",
		"EXPECTED FAILURES",
		"OK: 2 of 4 passed (1 warning, 1 expected failure, 1 skipped)",
		"! 1 scenario no longer failing; remove from " + base + ": version-answers",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAILED login-needs-device-token\n") {
		t.Error("an expected failure was shown in the failure digest")
	}
	if !strings.Contains(errOut, "lists 1 scenario not in the suite: no-such-scenario") {
		t.Errorf("unknown baseline names not reported: %q", errOut)
	}
	var got struct {
		Scenarios []struct {
			Name            string `json:"name"`
			Reason          string `json:"reason"`
			ExpectedFailure bool   `json:"expected_failure"`
		} `json:"scenarios"`
	}
	data, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	last := got.Scenarios[3]
	if !last.ExpectedFailure || last.Reason != "listed in "+base {
		t.Errorf("json report: %+v", last)
	}
	// The same failure without the baseline fails the run.
	if code, _, _, _ := runWith(t, false, withFailure(fakeReport()), nil, nil); code != 1 {
		t.Errorf("without the baseline: exit %d", code)
	}
}

func TestReportsWrittenAndValid(t *testing.T) {
	dir := t.TempDir()
	junit, tap := filepath.Join(dir, "junit.xml"), filepath.Join(dir, "out.tap")
	code, out, errOut, err := runWith(t, false, withFailure(fakeReport()), nil, func(o *RunOptions) {
		o.Server, o.APIKey, o.SecondAPIKey = "http://127.0.0.1:1", "top-secret-key", "second-secret-key"
		o.Reports = []ReportSpec{{Format: "junit", Path: junit}, {Format: "json", Path: "-"}, {Format: "tap", Path: tap}}
	})
	if code != 1 {
		t.Fatalf("exit %d, err %v", code, err)
	}
	// json=- took stdout: it holds only the JSON, people get stderr.
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("stdout is not just JSON: %v\n%s", err, out)
	}
	if !strings.Contains(errOut, "FAIL: 1 scenario of 4 failed") {
		t.Errorf("terminal report not on stderr:\n%s", errOut)
	}
	tapData, err := os.ReadFile(tap)
	if err != nil || !bytes.HasPrefix(tapData, []byte("TAP version 13\n1..4\n")) {
		t.Fatalf("tap: %v %q", err, tapData)
	}
	junitData, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"stdout": out, "stderr": errOut, "tap": string(tapData), "junit": string(junitData)} {
		if strings.Contains(data, "top-secret-key") || strings.Contains(data, "second-secret-key") {
			t.Errorf("an API key leaked into %s", name)
		}
	}
	if !strings.Contains(string(junitData), "X-Api-Key: [redacted]") {
		t.Error("masked key missing from the JUnit report")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	validateJUnit(t, junit)
}

func validateJUnit(t *testing.T, file string) {
	t.Helper()
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint not found: install libxml2-utils to check JUnit reports against the schema")
	}
	xsd := filepath.Join("..", "..", "scenarios", "report", "testdata", "junit-10.xsd")
	if out, err := exec.Command(xmllint, "--noout", "--schema", xsd, file).CombinedOutput(); err != nil {
		t.Fatalf("xmllint: %v\n%s", err, out)
	}
}

// TestReportMissingDirectoryCreated: --report into a directory that does
// not exist yet creates it, as Hurl and most reporters do.
func TestReportMissingDirectoryCreated(t *testing.T) {
	file := filepath.Join(t.TempDir(), "out", "ci", "j.xml")
	code, _, _, err := runWith(t, false, fakeReport(), nil, func(o *RunOptions) {
		o.Reports = []ReportSpec{{Format: "junit", Path: file}}
	})
	if code != 0 || err != nil {
		t.Fatalf("exit %d, err %v", code, err)
	}
	if _, err := os.Stat(file); err != nil {
		t.Fatal(err)
	}
}

// TestReportToUnwritablePath: a report path that cannot hold a file is a
// usage mistake found before any scenario runs, and the message names the
// path given, never a temporary file.
func TestReportToUnwritablePath(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "plain")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(notDir, "j.xml"), filepath.Join(notDir, "sub", "j.xml"), dir} {
		ran := false
		ios, _, _, _ := iostreams.Test()
		err := runRun(context.Background(), &RunOptions{IO: ios, Parallel: 1, Reports: []ReportSpec{{Format: "junit", Path: path}},
			Runner: func(context.Context, []*scenarios.Scenario, scenarios.RunOptions) (*scenarios.Report, error) {
				ran = true
				return fakeReport(), nil
			}})
		if code := cmdutil.ExitCode(err); code != cmdutil.ExitUsage || ran {
			t.Errorf("%s: exit %d, ran %v, err %v", path, code, ran, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "--report junit="+path) || strings.Contains(msg, ".j.xml.") {
			t.Errorf("%s: message %q", path, msg)
		}
	}
}

// suiteFor writes a scenario file with one trivial scenario per name.
func suiteFor(t *testing.T, names ...string) string {
	t.Helper()
	var docs []string
	for _, n := range names {
		docs = append(docs, "name: "+n+"\nrule: test\nsteps:\n  - http: {url: /api/v1/version}\n")
	}
	return writeSuite(t, strings.Join(docs, "---\n"))
}

func mustBuiltin(t *testing.T) []*scenarios.Scenario {
	t.Helper()
	list, err := scenarios.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// --- against real servers, through the real runner ---

const testSuite = `name: version-ok
rule: "test: the version function answers"
tags: [smoke]
steps:
  - http: {method: GET, url: /api/v1/version}
    expect:
      status: 200
---
name: broken-endpoint
rule: "test: a broken function answers 200"
tags: [broken]
steps:
  - name: call broken
    http: {method: GET, url: /api/v1/broken, headers: {X-Api-Key: "${api_key}"}}
    expect:
      status: 200
`

// testServer answers the runner's reachability probe, /version with 200,
// the admin API with 401 (every admin token is wrong) and /broken with 500.
func testServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/account", "/api/v1/version":
			_, _ = io.WriteString(w, `{"version":"test"}`)
		case "/admin/api/settings":
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"invalid_token"}`)
		default:
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"error":"boom"}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func writeSuite(t *testing.T, content string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "suite.yaml")
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestRunAgainstRealServers(t *testing.T) {
	suite := writeSuite(t, testSuite)
	url := testServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	t.Setenv("PARAGON_API_KEY", "")
	t.Setenv("PARAGON_ADMIN_TOKEN", "")

	tests := []struct {
		name string
		args []string
		want int
		out  []string // substrings of stdout
		err  []string // substrings of stderr or the error
	}{
		{"passing scenario", []string{"run", suite, "--server", url, "--tag", "smoke"}, 0,
			[]string{"PASSED   version-ok", "OK: 1 of 1 passed"}, nil},
		{"failing scenario", []string{"run", suite, "--server", url, "--api-key", "sekrit-key-123"}, 1,
			[]string{"FAILED   broken-endpoint", `step "call broken" (`, `suite.yaml:13): status`, "500", "FAIL: 1 scenario of 2 failed"}, nil},
		{"name filter by regexp", []string{"run", suite, "--server", url, "--name", "^vers.*ok$"}, 0,
			[]string{"Running 1 scenario", "version-ok"}, nil},
		{"unreachable target", []string{"run", suite, "--server", closed}, 3,
			nil, []string{"cannot reach the API at " + closed, "check --server"}},
		{"unreachable admin API", []string{"run", suite, "--server", url, "--admin-url", closed, "--admin-token", "sekrit-key-123"}, 3,
			nil, []string{"cannot reach the admin API at " + closed, "check --admin-url"}},
		{"admin token refused", []string{"run", suite, "--server", url, "--admin-url", url, "--admin-token", "sekrit-key-123"}, 2,
			nil, []string{"admin token refused", url, "check --admin-token"}},
		{"invalid scenario file", []string{"run", writeSuite(t, "name: Bad Name\nsteps: []\nbogus: 1\n")}, 2,
			nil, []string{"suite.yaml:1:", "problems in the scenario files"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, out, errOut := iostreams.Test()
			code, err := execute(t, ios, group, append([]string{"scenario"}, tt.args...)...)
			if code != tt.want {
				t.Fatalf("exit %d, want %d (err %v)\nstdout:\n%s\nstderr:\n%s", code, tt.want, err, out, errOut)
			}
			for _, w := range tt.out {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			all := errOut.String()
			if err != nil {
				all += err.Error()
			}
			for _, w := range tt.err {
				if !strings.Contains(all, w) {
					t.Errorf("stderr/error lacks %q:\n%s", w, all)
				}
			}
			if strings.Contains(out.String()+all, "sekrit-key-123") {
				t.Error("the API key leaked")
			}
			if tt.want >= 2 && out.Len() > 0 {
				t.Errorf("a run that could not start printed a report:\n%s", out)
			}
		})
	}
}

func TestRunBuiltinSuiteOnEmbeddedServer(t *testing.T) {
	ios, _, out, errOut := iostreams.Test()
	junit := filepath.Join(t.TempDir(), "junit.xml")
	// A quarter of the suite: the scenarios package runs all of it; here the
	// point is the command's wiring, sharding and a real report.
	code, err := execute(t, ios, group, "scenario", "run", "--parallel", "2", "--shard", "1/4", "--report", "junit="+junit)
	if code != 0 {
		t.Fatalf("built-in suite on the embedded server: exit %d (err %v)\n%s\n%s", code, err, out, errOut)
	}
	want := (len(mustBuiltin(t)) + 3) / 4
	if !strings.Contains(out.String(), fmt.Sprintf("Running %d scenarios against embedded reference server · shard 1/4", want)) ||
		!strings.Contains(out.String(), "OK: ") {
		t.Errorf("output:\n%s", out)
	}
	validateJUnit(t, junit)
}

// An outside server's client comes from the factory, so the global --cacert
// and --insecure flags apply to it.
func TestRunUsesFactoryHTTPClient(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"version":"test"}`)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is the point
	srv.StartTLS()
	defer srv.Close()
	suite := suiteFor(t, "version-over-tls")
	for _, insecure := range []bool{false, true} {
		ios, _, out, errOut := iostreams.Test()
		f := &cmdutil.Factory{IOStreams: ios, Globals: cmdutil.GlobalOptions{Insecure: insecure}}
		cmd := NewCmdRun(f, nil)
		cmd.SetArgs([]string{suite, "--server", srv.URL})
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.ExecuteContext(context.Background())
		want := cmdutil.ExitUnreachable // a certificate nobody trusts
		if insecure {
			want = cmdutil.ExitOK
		}
		if code := cmdutil.ExitCode(err); code != want {
			t.Errorf("insecure=%v: exit %d, want %d (err %v)\n%s\n%s", insecure, code, want, err, out, errOut)
		}
	}
}

// TestReportWriteErrorNamesTheReport: a report that cannot be put in place
// after the run (here a directory appeared at its path meanwhile) names the
// path given, never the temporary file.
func TestReportWriteErrorNamesTheReport(t *testing.T) {
	file := filepath.Join(t.TempDir(), "j.xml")
	code, _, _, err := runWith(t, false, fakeReport(), nil, func(o *RunOptions) {
		o.Reports = []ReportSpec{{Format: "junit", Path: file}}
		inner := o.Runner
		o.Runner = func(ctx context.Context, list []*scenarios.Scenario, ro scenarios.RunOptions) (*scenarios.Report, error) {
			if err := os.MkdirAll(filepath.Join(file, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			return inner(ctx, list, ro)
		}
	})
	if code == 0 || err == nil || !strings.Contains(err.Error(), "junit report: cannot write "+file+": ") || strings.Contains(err.Error(), ".j.xml.") {
		t.Fatalf("exit %d, err %v", code, err)
	}
}

// --target: the file's server, keys and users are used; mistakes in it and
// flags that contradict it are usage errors naming the file and line.
func TestRunTargetFlag(t *testing.T) {
	t.Setenv("PARAGON_API_KEY", "from-env")
	t.Setenv("QA_KEY", "qa-key-value")
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("qa.yaml", "server: https://qa.example.com:7300\nkeys: {default: {value: \"${QA_KEY}\"}}\n")
	noServer := write("none.yaml", "keys: {default: {value: \"${QA_KEY}\"}}\n")
	unknown := write("unknown.yaml", "keys: {default: {value: \"${QA_KEY}\"}}\nmax_wiat: 2m\n")
	wrongType := write("type.yaml", "keys: {default: {value: \"${QA_KEY}\"}}\ndevice_keys: {a: b}\n")
	literal := write("literal.yaml", "keys: {default: {value: hunter2}}\n")
	unset := write("unset.yaml", "keys: {default: {value: \"${QA_NOT_SET_KEY}\"}}\n")
	prompt := write("prompt.yaml", "server: http://127.0.0.1:9\nkeys: {default: {value: \"${QA_KEY}\"}}\napproval: prompt\n")
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(*testing.T, *RunOptions)
	}{
		{name: "file", args: []string{"--target", good}, check: func(t *testing.T, o *RunOptions) {
			if o.Server != "https://qa.example.com:7300" || o.APIKey != "" || o.Target == nil || o.Target.Declared.Keys["default"].Value != "qa-key-value" {
				t.Errorf("options %+v", o)
			}
		}},
		{name: "--server wins", args: []string{"--target", good, "--server", "http://127.0.0.1:9"}, check: func(t *testing.T, o *RunOptions) {
			if o.Server != "http://127.0.0.1:9" {
				t.Errorf("server %q", o.Server)
			}
		}},
		{name: "no server", args: []string{"--target", noServer}, wantErr: "names no server: add server: URL to it, or pass --server URL"},
		{name: "unknown field", args: []string{"--target", unknown}, wantErr: unknown + `:2:1: target: unknown field "max_wiat"; expected one of:`},
		{name: "wrong type", args: []string{"--target", wrongType}, wantErr: wrongType + `:2:14: target.device_keys: expected a list, found a mapping`},
		{name: "literal secret", args: []string{"--target", literal}, wantErr: literal + `:1:25: keys.default.value: a secret is never written in the file`},
		{name: "prompt without a terminal", args: []string{"--target", prompt}, wantErr: "approval: prompt needs a terminal to ask on; use approval: wait (an administrator approves the devices) or approval: command"},
		{name: "unset variable", args: []string{"--target", unset}, wantErr: "the environment variable QA_NOT_SET_KEY is not set"},
		{name: "unreadable", args: []string{"--target", filepath.Join(dir, "nope.yaml")}, wantErr: "--target: cannot read " + filepath.Join(dir, "nope.yaml") + ": no such file or directory"},
		{name: "with --api-key", args: []string{"--target", good, "--api-key", "k"}, wantErr: "--api-key contradicts --target " + good + `: declare it in the file instead (its keys: {default: {value: "${VARIABLE}"}})`},
		{name: "with --second-api-key", args: []string{"--target", good, "--second-api-key", "k"}, wantErr: "--second-api-key contradicts --target"},
		{name: "with --no-device-keys", args: []string{"--target", good, "--no-device-keys"}, wantErr: "(device_keys: [])"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *RunOptions
			code, err := execute(t, ios, func(f *cmdutil.Factory) *cobra.Command {
				return NewCmdRun(f, func(_ context.Context, o *RunOptions) error { got = o; return nil })
			}, append([]string{"run"}, tt.args...)...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || code != cmdutil.ExitUsage || got != nil {
					t.Fatalf("exit %d, error %v; want exit 2 and an error containing %q", code, err, tt.wantErr)
				}
				return
			}
			if err != nil || got == nil {
				t.Fatalf("err %v", err)
			}
			tt.check(t, got)
		})
	}
}

// --plan says what a run would do and sends nothing: the server named here
// does not exist.
func TestRunPlan(t *testing.T) {
	t.Setenv("QA_KEY", "qa-key-value")
	dir := t.TempDir()
	target := filepath.Join(dir, "qa.yaml")
	if err := os.WriteFile(target, []byte("server: http://127.0.0.1:9\nkeys: {default: {value: \"${QA_KEY}\", auto_trust: true}}\n"+
		"users: {alice: {userid: qa-1, password: \"${QA_KEY}\"}}\nlifetimes: {access_token_ttl: 30s, refresh_token_ttl: 1h, device_code_ttl: 10m}\nmax_wait: 1m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ios, _, out, _ := iostreams.Test()
	code, err := execute(t, ios, func(f *cmdutil.Factory) *cobra.Command { return NewCmdRun(f, nil) }, "run", "--target", target, "--plan", "--parallel", "8")
	if err != nil || code != 0 {
		t.Fatalf("exit %d: %v\n%s", code, err, out)
	}
	got := out.String()
	for _, want := range []string{
		"Plan for http://127.0.0.1:9 as " + target + " declares it: ",
		"Real waits: ",
		"in one scenario (--parallel 8 lets them overlap).\n",
		"\nRUN      ",
		"  access-token-expires-after-an-hour (waits 31s)\n",
		"  login-answer-shape\n",
		"\nSKIP     ",
		"needs user bob; " + target + " declares none (add users: {bob: {userid: ..., password: \"${...}\"}})\n",
		"needs a real wait of 1h0m1s (no fake clock), longer than max_wait 1m0s",
		"needs key switch auto_trust: false; " + target + " declares true for its default key",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the plan lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "qa-key-value") {
		t.Error("the plan shows a key")
	}
}
