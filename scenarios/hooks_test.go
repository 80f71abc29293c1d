package scenarios

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

// qaFile is a file whose setup creates the user qa and logs it in, and
// whose teardown deletes it.
const qaFile = `needs: [admin]
setup:
  - login: carol
  - call:
      method: PUT
      path: /users
      as: carol
      form: {username: qa, detailtype: ["0", "3"], detaildata: ["QA Engineer", "qa-pass-1"]}
    expect: {status: 201}
    capture: {qa_name: $.username}
  - login: {userid: qa, password: qa-pass-1, as: qa}
teardown:
  - call: {method: DELETE, path: /users/qa, as: carol}
---
name: qa-one
steps:
  - call: {path: /users, query: {username: "${qa_name}"}, as: qa}
    expect:
      json:
        $.items[0].fullName: QA Engineer
  - call: {method: PUT, path: /users, as: carol, form: {username: left-by-one}}
    expect: {status: 201}
---
name: qa-two
needs: [admin] # runs alone: after qa-one under --parallel too
steps:
  - call: {path: /users, query: {username: left-by-one}, as: qa}
    expect:
      json:
        $.items[0].username: left-by-one
`

func parseOK(t *testing.T, file, src string) []*Scenario {
	t.Helper()
	list, err := Parse(file, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// entry returns the report entry named name.
func entry(t *testing.T, rep *Report, name string) ScenarioResult {
	t.Helper()
	for _, r := range rep.Scenarios {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no entry %q in %q", name, entryNames(rep))
	return ScenarioResult{}
}

func entryNames(rep *Report) []string {
	var out []string
	for _, r := range rep.Scenarios {
		out = append(out, r.Name)
	}
	return out
}

// recorder wraps the embedded servers and records each request as
// "METHOD PATH" in arrival order, and how many servers were made.
type recorder struct {
	mu       sync.Mutex
	requests []string
	servers  int
}

func (rc *recorder) wrap(h http.Handler, _ string) http.Handler {
	rc.mu.Lock()
	rc.servers++
	rc.mu.Unlock()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		rc.requests = append(rc.requests, r.Method+" "+r.URL.Path)
		rc.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (rc *recorder) count(req string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, r := range rc.requests {
		if r == req {
			n++
		}
	}
	return n
}

// Setup runs once before the file's scenarios and teardown once after
// them, all on one embedded server (qa-two sees the user qa-one made), and
// what setup captured and logged in is every scenario's.
func TestFileSetupAndTeardownRunOnceAroundTheFile(t *testing.T) {
	for _, parallel := range []int{1, 3} {
		list := parseOK(t, "qa/users.yaml", qaFile)
		list = append(list, parseOK(t, "other.yaml", "name: other\nsteps:\n  - call: GET /version\n    expect: {status: 403}\n")...)
		rc := &recorder{}
		var order []string
		rep, err := Run(context.Background(), list, RunOptions{Parallel: parallel, Target: Target{Wrap: rc.wrap}, OnEvent: func(e Event) {
			if e.Kind == ScenarioFinished {
				order = append(order, e.Scenario.Name)
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"setup (qa/users.yaml)", "qa-one", "qa-two", "teardown (qa/users.yaml)", "other"}
		if got := entryNames(rep); !slices.Equal(got, want) {
			t.Fatalf("parallel %d: entries %q, want %q", parallel, got, want)
		}
		for _, r := range rep.Scenarios {
			if r.Status != Passed {
				t.Errorf("parallel %d: %s", parallel, describe(r))
			}
		}
		if s, td := entry(t, rep, want[0]), entry(t, rep, want[3]); s.Hook != HookSetup || td.Hook != HookTeardown {
			t.Errorf("hooks %q %q", s.Hook, td.Hook)
		}
		if c := rep.Counts(); c[Passed] != 3 {
			t.Errorf("counts %v: setup and teardown are not scenarios", c)
		}
		if n := rc.count("PUT /api/v1/users"); n != 2 {
			t.Errorf("parallel %d: %d user creations, want 2 (setup's once, qa-one's)", parallel, n)
		}
		if n := rc.count("DELETE /api/v1/users/qa"); n != 1 {
			t.Errorf("parallel %d: teardown ran %d times", parallel, n)
		}
		if i, j := slices.Index(order, "setup (qa/users.yaml)"), slices.Index(order, "teardown (qa/users.yaml)"); parallel == 1 && (i != 0 || j != 3) {
			t.Errorf("order %q", order)
		}
		for _, name := range []string{"qa-one", "qa-two"} {
			if slices.Index(order, name) < slices.Index(order, want[0]) || slices.Index(order, name) > slices.Index(order, want[3]) {
				t.Errorf("parallel %d: %s ended outside setup and teardown: %q", parallel, name, order)
			}
		}
	}
}

// A scenario selected alone still gets its file's setup and teardown; a
// file none of whose scenarios is selected runs neither.
func TestFileHooksFollowTheSelection(t *testing.T) {
	list := parseOK(t, "qa.yaml", qaFile)
	list = append(list, parseOK(t, "other.yaml", "name: other\nsteps:\n  - call: GET /version\n    expect: {status: 403}\n")...)
	rep, err := Run(context.Background(), Select(list, Selection{Names: []string{"qa-one"}}), RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := entryNames(rep), []string{"setup (qa.yaml)", "qa-one", "teardown (qa.yaml)"}; !slices.Equal(got, want) {
		t.Errorf("entries %q, want %q", got, want)
	}
	rc := &recorder{}
	rep, err = Run(context.Background(), Select(list, Selection{Names: []string{"other"}}), RunOptions{Target: Target{Wrap: rc.wrap}})
	if err != nil {
		t.Fatal(err)
	}
	if got := entryNames(rep); !slices.Equal(got, []string{"other"}) || rc.count("PUT /api/v1/users") != 0 {
		t.Errorf("entries %q, requests %q", got, rc.requests)
	}
}

// A failing setup fails every selected scenario of the file with the step
// and its file:line; teardown still runs. A failing teardown is its own
// failed entry.
func TestFailingSetupFailsTheFileAndTeardownStillRuns(t *testing.T) {
	src := strings.Replace(qaFile, "expect: {status: 201}", "expect: {status: 409}", 1)
	rc := &recorder{}
	rep, err := Run(context.Background(), parseOK(t, "qa/users.yaml", src), RunOptions{Target: Target{Wrap: rc.wrap}})
	if err != nil {
		t.Fatal(err)
	}
	if s := entry(t, rep, "setup (qa/users.yaml)"); s.Status != Failed {
		t.Errorf("setup: %s", describe(s))
	}
	for _, name := range []string{"qa-one", "qa-two"} {
		r := entry(t, rep, name)
		want := `setup failed: step "call PUT /users" (qa/users.yaml:4): status 409: expected 409, got 201`
		if r.Status != Failed || len(r.Steps) == 0 || r.Steps[0].Error != want {
			t.Errorf("%s: %s, want the error %q", name, describe(r), want)
		}
	}
	if td := entry(t, rep, "teardown (qa/users.yaml)"); td.Status != Passed || rc.count("DELETE /api/v1/users/qa") != 1 {
		t.Errorf("teardown: %s", describe(td))
	}
	if rc.count("GET /api/v1/users") != 0 {
		t.Error("a scenario ran its steps after its file's setup failed")
	}

	src = strings.Replace(qaFile, "path: /users/qa, as: carol}", "path: /users/qa, as: carol}\n    expect: {status: 404}", 1)
	rep, err = Run(context.Background(), parseOK(t, "qa/users.yaml", src), RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if td := entry(t, rep, "teardown (qa/users.yaml)"); td.Status != Failed || td.Hook != HookTeardown {
		t.Errorf("teardown: %s", describe(td))
	}
	if c := rep.Counts(); c[Passed] != 2 || c[Failed] != 0 {
		t.Errorf("counts %v: a failed teardown is not a failed scenario", c)
	}
}

// Teardown runs after Ctrl-C and after --fail-fast too.
func TestTeardownRunsAfterCancelAndFailFast(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rc := &recorder{}
	wrap := func(h http.Handler, tok string) http.Handler {
		inner := rc.wrap(h, tok)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("username") == "left-by-one" {
				cancel() // Ctrl-C while qa-two runs
			}
			inner.ServeHTTP(w, r)
		})
	}
	rep, err := Run(ctx, parseOK(t, "qa.yaml", qaFile), RunOptions{Target: Target{Wrap: wrap}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if td := entry(t, rep, "teardown (qa.yaml)"); td.Status != Passed || rc.count("DELETE /api/v1/users/qa") != 1 {
		t.Errorf("teardown after Ctrl-C: %s", describe(td))
	}

	src := strings.Replace(qaFile, "$.items[0].fullName: QA Engineer", "$.items[0].fullName: Someone Else", 1)
	rc = &recorder{}
	rep, err = Run(context.Background(), parseOK(t, "qa.yaml", src), RunOptions{FailFast: true, Target: Target{Wrap: rc.wrap}})
	if err != nil {
		t.Fatal(err)
	}
	if r := entry(t, rep, "qa-two"); r.Status != Skipped || r.Reason != "fail-fast" {
		t.Errorf("qa-two: %s", describe(r))
	}
	if td := entry(t, rep, "teardown (qa.yaml)"); td.Status != Passed || rc.count("DELETE /api/v1/users/qa") != 1 {
		t.Errorf("teardown after fail-fast: %s", describe(td))
	}
}

// Against an outside server with an admin API nothing resets the server
// between a file's scenarios, even those that need admin.
func TestFileUnitIsNotResetOnAnOutsideServer(t *testing.T) {
	srv, tok := startServer(t, true)
	resets := 0
	var mu sync.Mutex
	counting := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == "/admin/api/reset" {
			mu.Lock()
			resets++
			mu.Unlock()
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	src := qaFile + "---\nname: qa-admin\nneeds: [admin]\nsteps:\n  - register: printer\n  - approve: printer\n  - call: {path: /users, query: {username: left-by-one}, as: qa}\n"
	rep, err := Run(context.Background(), parseOK(t, "qa.yaml", src), RunOptions{Parallel: 3, Target: Target{
		BaseURL: srv.URL, AdminURL: srv.URL, AdminToken: tok, HTTPClient: counting,
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Scenarios {
		if r.Status != Passed {
			t.Errorf("%s", describe(r))
		}
	}
	if resets != 1 {
		t.Errorf("%d resets, want the one before the run", resets)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestFileHooksValidation(t *testing.T) {
	cases := []struct{ src, want string }{
		{"set_up:\n  - login: carol\n---\nname: a\nsteps:\n  - login: alice\n",
			`f.yaml:1:1: file: unknown field "set_up" beside setup and teardown; expected one of: needs, setup, teardown; did you mean setup?`},
		{"before_all:\n  - login: carol\n---\nname: a\nsteps:\n  - login: alice\n", `did you mean setup?`},
		{"name: a\ntear_down: []\nsteps:\n  - login: alice\n", `scenario: unknown field "tear_down"; expected one of: description, given, name, needs, rule, severity, steps, tags; did you mean teardown?`},
		{"name: a\nsetup:\n  - login: carol\nsteps:\n  - login: alice\n", `f.yaml:2:1: scenario: setup runs once per file: write setup: and teardown: in a document of their own, the file's first`},
		{"name: a\nsteps:\n  - login: alice\n---\nsetup:\n  - login: carol\n", `f.yaml:5:1: setup and teardown run once per file: write them in the file's first document, before its scenarios`},
		{"setup:\n  - login: carol\n", `f.yaml:1:1: the file has setup or teardown but no scenario`},
		{"setup:\n  - login: carol\n---\nname: a\nneeds: [admin]\ngiven: {key: {allow_untrusted: true}}\nsteps:\n  - login: alice\n",
			`f.yaml:4:1: scenario "a": given resets the server, which would undo the file's setup; move this scenario to another file`},
		{"setup:\n  - login: carol\n    capture: {tok: $.token.access_token}\n---\nname: a\nsteps:\n  - login: alice\n    capture: {tok: $.token.access_token}\n",
			`f.yaml:8:15: capture: "tok" is captured by the file's setup, which every scenario of the file shares; choose another name`},
		{"setup:\n  - login: carol\n---\nname: a\nsteps:\n  - call: {path: /version, headers: {X: \"${qa.access_token}\"}}\n",
			`${qa.access_token}: no earlier step logs qa in or registers a device qa`},
		{"setup:\n  - approve: printer\n---\nname: a\nsteps:\n  - login: alice\n", `step approve printer: needs admin: add admin to the file's needs (beside setup:)`},
		{"setup: []\n---\nname: a\nsteps:\n  - login: alice\n", `f.yaml:1:8: setup: expected a list of at least one step`},
	}
	for _, c := range cases {
		_, err := Parse("f.yaml", []byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\ngot  %v\nwant %s", c.src, err, c.want)
		}
	}
	// setup's sessions and captures are known to the scenarios and to teardown
	ok := "setup:\n  - login: {userid: alice, password: wonderland, as: qa}\n    capture: {tok: $.token.access_token}\nteardown:\n  - call: {path: /version, as: qa, headers: {X: \"${tok}\"}}\n" +
		"---\nname: a\nsteps:\n  - call: {path: /version, headers: {X: \"${qa.access_token} ${tok}\"}}\n"
	list := parseOK(t, "f.yaml", ok)
	if h := list[0].Hooks; h == nil || h.Setup == nil || h.Teardown == nil || h.Setup.Name != "setup (f.yaml)" {
		t.Fatalf("hooks %+v", h)
	}
}
