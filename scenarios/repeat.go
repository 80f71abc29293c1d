package scenarios

import (
	"context"
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// A step may run its action several times: repeat: N sends it N times,
// each answer checked against expect (the last against expect_last when
// given); retry: {until, times, every} sends it until the answer satisfies
// until, waiting every between tries, at most times tries. ${iteration} is
// the 1-based number of the try under way.

// Limits of repeat and retry: far above a real suite's needs, low enough
// that a typo cannot keep a run busy for hours.
const (
	maxRepeat     = 1000
	maxRetryTimes = 1000
	maxRetryEvery = 10 * time.Minute
)

// iterationVar is the variable holding the 1-based number of the
// repetition or try under way, in a step with repeat or retry.
const iterationVar = "iteration"

// Retry makes a step try again until its answer satisfies Until.
type Retry struct {
	Until *Expect       // what the answer must satisfy to stop trying
	Times int           // tries at most, the first included
	Every time.Duration // the wait between two tries
}

// repeatOptions reads repeat and retry of a step (n is the step's
// mapping); it reports whether the step has either, for ${iteration}.
func (d *decoder) repeatOptions(st *Step, n *yaml.Node) bool {
	has := false
	for _, kv := range d.mappingPairs(n, "step") {
		k, v := kv[0], kv[1]
		switch k.Value {
		case "repeat":
			has = true
			d.decode(v, reflectOf(&st.Repeat), "repeat")
			if st.Repeat < 1 || st.Repeat > maxRepeat {
				d.errorf(v, "repeat: expected a number of times from 1 to %d, found %s", maxRepeat, kindName(resolve(v)))
			}
		case "retry":
			has = true
			st.Retry = d.retry(v)
		}
	}
	if st.Repeat > 0 && st.Retry != nil {
		d.errorf(n, "step %d: has both repeat and retry; expected one of them", st.index)
	}
	return has
}

func (d *decoder) retry(n *yaml.Node) *Retry {
	rt := &Retry{Times: 3, Every: time.Second}
	for _, kv := range d.mappingPairs(n, "retry") {
		k, v := kv[0], kv[1]
		switch k.Value {
		case "until":
			rt.Until = d.expect(v)
		case "times":
			d.decode(v, reflectOf(&rt.Times), "retry.times")
			if rt.Times < 1 || rt.Times > maxRetryTimes {
				d.errorf(v, "retry.times: expected a number of tries from 1 to %d, found %s", maxRetryTimes, kindName(resolve(v)))
			}
		case "every":
			var dur Duration
			d.decode(v, reflectOf(&dur), "retry.every")
			rt.Every = durationOf(dur)
			if rt.Every < 0 || rt.Every > maxRetryEvery {
				d.errorf(v, "retry.every: expected a wait from 0s to %s, found %s", maxRetryEvery, kindName(resolve(v)))
			}
		default:
			fields := []string{"every", "times", "until"}
			d.errorf(k, "retry: unknown field %q; expected one of: every, times, until%s", k.Value, didYouMean(k.Value, fields))
		}
	}
	if rt.Until == nil && len(d.mappingPairs(n, "retry")) > 0 {
		d.errorf(n, "retry: expected until: what the answer must satisfy to stop trying (e.g. until: {status: 200})")
	}
	return rt
}

// once runs the step's action a single time.
func (r *scenarioRun) once(ctx context.Context, st *Step) (*exchange, error) {
	r.last = nil
	a, err := r.expandAll(st.Action)
	if err != nil {
		return nil, err
	}
	return a.(action).run(ctx, r)
}

// repeated runs a step with repeat: N: every answer must satisfy expect
// (the last one expect_last, when given); captures are taken from each, so
// the last answer's stay.
func (r *scenarioRun) repeated(ctx context.Context, st *Step, sr *StepResult) *exchange {
	n := max(st.Repeat, 1)
	defer func() { r.iteration = 0 }()
	var ex *exchange
	for i := 1; i <= n; i++ {
		r.iteration = i
		var err error
		if ex, err = r.once(ctx, st); err != nil {
			sr.Status, sr.Error = Failed, r.mask.Scrub(tryPrefix("repetition", i, n)+err.Error())
			return r.last
		}
		e := st.Expect
		if i == n && st.ExpectLast != nil {
			e = st.ExpectLast
		}
		fs := r.check(e, ex)
		if len(fs) == 0 {
			fs = r.capture(st.Capture, ex)
		}
		if len(fs) > 0 {
			sr.Status, sr.Failures = Failed, prefixFailures(tryPrefix("repetition", i, n), fs)
			return ex
		}
	}
	return ex
}

// retried runs a step with retry: it tries until the answer satisfies
// until, at most times tries, waiting every between them; then expect (if
// any) and the captures apply to that answer. An error (a connection
// refused) counts as a try that did not satisfy until.
func (r *scenarioRun) retried(ctx context.Context, st *Step, sr *StepResult) *exchange {
	rt := st.Retry
	defer func() { r.iteration = 0 }()
	for i := 1; ; i++ {
		r.iteration = i
		ex, err := r.once(ctx, st)
		var fs []Failure
		if err == nil {
			fs = r.check(rt.Until, ex)
		}
		if err == nil && len(fs) == 0 {
			if st.Expect != nil {
				fs = r.check(st.Expect, ex)
			}
			if len(fs) == 0 {
				fs = r.capture(st.Capture, ex)
			}
			if len(fs) > 0 {
				sr.Status, sr.Failures = Failed, fs
			}
			return ex
		}
		if i >= rt.Times || ctx.Err() != nil {
			what := fmt.Sprintf("retry: until did not hold after %d %s: ", i, plural(i, "try", "tries"))
			if err != nil {
				sr.Status, sr.Error = Failed, r.mask.Scrub(what+err.Error())
				return r.last
			}
			sr.Status, sr.Failures = Failed, prefixFailures(what, fs)
			return ex
		}
		t := time.NewTimer(rt.Every)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// tryPrefix names a repetition in a failure ("repetition 3 of 5: "), or
// nothing for a step that runs once.
func tryPrefix(what string, i, n int) string {
	if n <= 1 {
		return ""
	}
	return fmt.Sprintf("%s %d of %d: ", what, i, n)
}

func prefixFailures(prefix string, fs []Failure) []Failure {
	if prefix == "" {
		return fs
	}
	for i := range fs {
		fs[i].Expectation = prefix + fs[i].Expectation
	}
	return fs
}
