package scenarios

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// counter answers each path with how often it was called: /throttle
// answers 401 four times then 429; /job answers pending twice, then done.
func counter(t *testing.T) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.URL.Path]++
		n := calls[r.URL.Path]
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/throttle":
			if n > 4 {
				w.Header().Set("Retry-After", "60")
				w.WriteHeader(http.StatusTooManyRequests)
			} else {
				w.WriteHeader(http.StatusUnauthorized)
			}
		case "/job":
			state := "pending"
			if n > 2 {
				state = "done"
			}
			fmt.Fprintf(w, `{"state": %q, "n": %d}`, state, n)
			return
		}
		fmt.Fprintf(w, `{"n": %d, "q": %q}`, n, r.URL.Query().Get("i"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func runSteps(t *testing.T, steps string) ScenarioResult {
	t.Helper()
	list, err := Parse("r.yaml", []byte("name: r\nsteps:\n"+steps))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), list, RunOptions{Target: Target{BaseURL: counter(t).URL}})
	if err != nil {
		t.Fatal(err)
	}
	return rep.Scenarios[0]
}

func failuresOf(sr StepResult) string {
	var out []string
	for _, f := range sr.Failures {
		out = append(out, f.Expectation+"|"+f.Expected+"|"+f.Actual)
	}
	if sr.Error != "" {
		out = append(out, "error "+sr.Error)
	}
	return strings.Join(out, "\n")
}

func TestRepeat(t *testing.T) {
	res := runSteps(t, `  - http: {url: "/count?i=${iteration}"}
    repeat: 3
    expect:
      json: {q: {matches: "^[1-3]$"}}
    capture: {last: $.n, i: $.q}
  - http: {url: "/count?i=${last}-${i}"}
    expect:
      json: {n: 4, q: "3-3"}
  - name: throttled after four failures
    http: {url: /throttle}
    repeat: 5
    expect: {status: 401}
    expect_last:
      status: 429
      headers: {Retry-After: {greater_than: 30s}}
`)
	if res.Status != Passed {
		t.Fatalf("%s", describe(res))
	}
	res = runSteps(t, `  - http: {url: /throttle}
    repeat: 5
    expect: {status: 401}
`)
	if got := failuresOf(res.Steps[0]); got != "repetition 5 of 5: status 401|401|429" {
		t.Errorf("failures %q", got)
	}
}

func TestRetry(t *testing.T) {
	res := runSteps(t, `  - http: {url: "/job?i=${iteration}"}
    retry:
      until: {json: {state: done}}
      times: 5
      every: 1ms
    expect:
      json: {n: 3}
    capture: {tries: $.n}
  - http: {url: /job}
    expect:
      json: {n: {greater_than: "${tries}"}}
      status: 500
`)
	if res.Status != Failed || res.Steps[0].Status != Passed || failuresOf(res.Steps[1]) != "status 500|500|200" {
		t.Fatalf("%s", describe(res))
	}
	res = runSteps(t, `  - http: {url: /job}
    retry: {until: {json: {state: done}}, times: 2, every: 1ms}
`)
	if got := failuresOf(res.Steps[0]); got != `retry: until did not hold after 2 tries: json state equals|"done"|"pending"` {
		t.Errorf("failures %q", got)
	}
	// the answer that satisfies until must satisfy expect too
	res = runSteps(t, `  - http: {url: /job}
    retry: {until: {json: {state: done}}, times: 3, every: 0s}
    expect: {json: {n: 1}}
`)
	if got := failuresOf(res.Steps[0]); got != `json n equals|1|3` {
		t.Errorf("failures %q", got)
	}
}

func TestRepeatAndRetryValidation(t *testing.T) {
	got := problemsOf(t, `name: a
steps:
  - call: GET /version
    repeat: 0
  - call: GET /version
    repeat: 2
    retry: {until: {status: 200}}
  - call: GET /version
    expect_last: {status: 200}
  - call: GET /version
    retry: {times: 1001, every: 1h, untill: {status: 200}}
  - call: "GET /version?i=${iteration}"
  - call: GET /version
    repeat: 2
    concurrently: 2
`)
	want := []string{
		`t.yaml:4:13: repeat: expected a number of times from 1 to 1000, found "0"`,
		`t.yaml:5:5: step 2: has both repeat and retry; expected one of them`,
		`t.yaml:9:5: step 3: expect_last checks the last of several repetitions: add repeat: N (2 or more)`,
		`t.yaml:11:20: retry.times: expected a number of tries from 1 to 1000, found "1001"`,
		`t.yaml:11:33: retry.every: expected a wait from 0s to 10m0s, found "1h"`,
		`t.yaml:11:37: retry: unknown field "untill"; expected one of: every, times, until; did you mean "until"?`,
		`t.yaml:11:12: retry: expected until: what the answer must satisfy to stop trying`,
		`t.yaml:12:11: ${iteration}: not captured by an earlier step`,
		`t.yaml:13:5: step 6: concurrently: expected no repeat or retry (the requests are sent at once)`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d:\n got  %s\n want %s…", i, got[i], want[i])
		}
	}
}
