package scenarios

import (
	"context"
	"strings"
	"testing"

	"github.com/paragon-cli/paragon/scenarios/internal/broken"
)

const concurrentRefresh = `
name: two-refreshes-at-once
description: Two refreshes of one token at the same instant; with no grace only one succeeds.
rule: "§3.4 a refresh token works once [ours]"
needs: [admin]
given:
  key: {allow_untrusted: true}
steps:
  - login: alice
    capture: {rt: $.token.refresh_token}
  - refresh: {user: alice, token: "${rt}", keep: true}
    concurrently: 2
    expect:
      status: [200, 400]
      successes: 1
`

// TestConcurrentlyFindsARace: a step sent twice at once passes on the
// reference server and fails on one that checks, pauses, then rotates.
func TestConcurrentlyFindsARace(t *testing.T) {
	list, err := Parse("race.yaml", []byte(concurrentRefresh))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), list, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Scenarios[0]; r.Status != Passed {
		t.Fatalf("reference server: %s", describe(r))
	}
	// A race shows when the second request arrives within the racy
	// server's pause: on a loaded machine one try in a hundred or so misses it.
	var r ScenarioResult
	for try := 0; try < 5 && r.Status != Failed; try++ {
		rep, err = Run(context.Background(), list, RunOptions{Target: Target{Wrap: broken.RacyRefresh}})
		if err != nil {
			t.Fatal(err)
		}
		r = rep.Scenarios[0]
	}
	last := r.Steps[len(r.Steps)-1]
	if r.Status != Failed || len(last.Failures) != 1 {
		t.Fatalf("racy server: %s", describe(r))
	}
	if f := last.Failures[0]; f.Expectation != "successes 1 of 2 sent at once" || f.Actual != "2" {
		t.Errorf("failure %+v", f)
	}
	if ex := last.Exchange; ex == nil || !strings.Contains(ex.Response, `"refresh_token":"[redacted]"`) {
		t.Errorf("exchange %+v", ex)
	}
}

func TestConcurrentlyValidation(t *testing.T) {
	for _, c := range []struct{ steps, want string }{
		{"  - login: alice\n    concurrently: 2\n", "concurrently: expected a call or a refresh with keep: true, found login"},
		{"  - refresh: {user: alice}\n    concurrently: 2\n", "found refresh"},
		{"  - call: GET /version\n    concurrently: 1\n", "expected 2 to 16 requests at once, found 1"},
		{"  - call: GET /version\n    concurrently: 2\n    capture: {x: status}\n", "captures nothing"},
		{"  - call: GET /version\n    expect: {successes: 1}\n", "add concurrently: N"},
		{"  - call: GET /version\n    concurrently: 2\n    expect: {successes: 3}\n", "expect.successes: 3 of 2 requests"},
		{"  - call: GET /version\n    concurrently: 2\n    repeat: 2\n", "expected no repeat or retry"},
	} {
		_, err := Parse("t.yaml", []byte("name: t\nrule: r\nsteps:\n"+c.steps))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.steps, err, c.want)
		}
	}
}
