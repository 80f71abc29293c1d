package scenarios

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/paragon-cli/paragon/internal/redact"
)

// deviceState is what a scenario knows about one of its devices.
type deviceState struct {
	clientID     string
	description  string // as registered
	awaitTrust   bool   // approved on a declared target: the next device_token polls until trusted
	key          *deviceKey
	deviceCode   string
	accessToken  string
	refreshToken string
}

// session is a user's tokens after a login.
type session struct {
	accessToken  string
	refreshToken string
}

// scenarioRun is the state of one scenario while it runs: the target,
// variables, devices, sessions and secrets to mask. It is used by one
// goroutine.
type scenarioRun struct {
	t        *target
	sc       *Scenario
	vars     map[string]any // captured values, with their JSON types
	devices  map[string]*deviceState
	sessions map[string]*session
	mask     *redact.Set
	last     *exchange
	// iteration is the repetition or try under way of a step with repeat
	// or retry (${iteration}), 0 in other steps.
	iteration int
	// plan is how the scenario runs on its target (keys, their switches);
	// lifetimes start as the plan's and follow settings steps.
	plan      *scenarioPlan
	lifetimes lifetimes
	// registered lists the devices registered on an outside target, for
	// the report.
	registered []RegisteredDevice
	// created lists the users the scenario created on an outside server
	// (name and the session that created them), documents the sessions
	// that submitted documents there: cleanUp removes what it can.
	created   [][2]string
	documents []string
	// inUnit: the scenario runs in its file's unit, between the file's
	// setup and teardown: nothing resets the server around it.
	inUnit bool
	// keepCreated: a file's setup leaves what it created to its teardown.
	keepCreated bool
}

func newScenarioRun(t *target, sc *Scenario, p *scenarioPlan) *scenarioRun {
	if p == nil {
		p = &scenarioPlan{apiKey: t.apiKey, secondKey: t.secondKey, lifetimes: referenceLifetimes(), switches: map[string]keySwitches{}}
	}
	r := &scenarioRun{t: t, sc: sc, vars: map[string]any{}, devices: map[string]*deviceState{}, sessions: map[string]*session{}, mask: &redact.Set{},
		plan: p, lifetimes: maps.Clone(p.lifetimes)}
	r.mask.Add(t.apiKey)
	r.mask.Add(t.secondKey)
	r.mask.Add(t.adminToken)
	for _, v := range t.vars {
		if v.IsSecret() {
			r.mask.Add(v.Value)
		}
	}
	return r
}

func (r *scenarioRun) device(name string) *deviceState {
	name = alias(name)
	d, ok := r.devices[name]
	if !ok {
		d = &deviceState{clientID: newUUID()}
		r.devices[name] = d
	}
	return d
}

func (r *scenarioRun) session(name string) *session {
	s, ok := r.sessions[name]
	if !ok {
		s = &session{}
		r.sessions[name] = s
	}
	return s
}

// run runs the scenario's given and steps and grades it.
func (r *scenarioRun) run(ctx context.Context, onStep func(StepResult)) (res ScenarioResult) {
	res = baseResult(r.sc)
	start := time.Now()
	defer func() {
		res.Leftovers = r.cleanUp(ctx)
		res.Duration, res.Devices = time.Since(start), r.registered
	}()
	// stop ends the scenario at a step that did not pass: FAILED (WARNING
	// for a warning), or SKIPPED when the run was cancelled meanwhile (the
	// step was cut short; it did not fail).
	stop := func(sr StepResult, next int) ScenarioResult {
		res.Status = Failed
		if res.Severity == SeverityWarning {
			res.Status = Warning
		}
		if ctx.Err() != nil {
			sr.Status = Skipped
			res.Status, res.Reason = Skipped, "run cancelled"
		}
		res.Steps = append(res.Steps, sr)
		onStep(sr)
		r.skipRest(&res, next, onStep)
		return res
	}
	if !r.t.embedded && !r.inUnit && changesServer(r.sc) && r.t.caps[NeedAdmin] {
		sr := r.adminStep(ctx, "reset the server", func() (*exchange, error) {
			return r.admin(ctx, http.MethodPost, "/admin/api/reset", nil)
		})
		if sr.Status != Passed {
			return stop(sr, len(r.sc.Steps))
		}
	}
	if g := r.sc.Given; g != nil && r.t.declaredMode() {
		sr := StepResult{Name: "given: as " + r.t.decl.File + " declares", Status: Passed}
		res.Steps = append(res.Steps, sr)
		onStep(sr)
	} else if g != nil {
		r.lifetimes.apply(g.Settings)
		sr := r.adminStep(ctx, "given", func() (*exchange, error) { return r.applyGiven(ctx, g) })
		if sr.Status != Passed {
			return stop(sr, 0)
		}
		res.Steps = append(res.Steps, sr)
		onStep(sr)
	}
	res.Status = Passed
	for i, st := range r.sc.Steps {
		if ctx.Err() != nil {
			r.skipRest(&res, i, onStep)
			res.Status, res.Reason = Skipped, "run cancelled"
			return res
		}
		sr := r.step(ctx, st, i+1)
		if sr.Status != Passed {
			return stop(sr, i+1)
		}
		res.Steps = append(res.Steps, sr)
		onStep(sr)
	}
	return res
}

func (r *scenarioRun) skipRest(res *ScenarioResult, from int, onStep func(StepResult)) {
	for i := from; i < len(r.sc.Steps); i++ {
		sr := StepResult{Name: r.sc.Steps[i].label(i + 1), Line: r.sc.Steps[i].Line, Status: Skipped}
		res.Steps = append(res.Steps, sr)
		onStep(sr)
	}
}

// adminStep runs an admin call that must answer 2xx.
func (r *scenarioRun) adminStep(_ context.Context, name string, f func() (*exchange, error)) StepResult {
	start := time.Now()
	r.last = nil
	ex, err := f()
	sr := StepResult{Name: name, Status: Passed, Duration: time.Since(start)}
	if err != nil {
		sr.Status, sr.Error = Failed, r.mask.Scrub(err.Error())
	} else if ex.status/100 != 2 {
		sr.Status = Failed
		sr.Failures = []Failure{{Expectation: "status 2xx", Expected: "2xx", Actual: fmt.Sprint(ex.status)}}
	}
	sr.Exchange = render(r.last, r.mask)
	return sr
}

// applyGiven sets the given keys and settings; it returns the first answer
// that was not 2xx, or the last one.
func (r *scenarioRun) applyGiven(ctx context.Context, g *Given) (*exchange, error) {
	var last *exchange
	for _, name := range sortedKeys(g.Keys) {
		ex, err := r.admin(ctx, http.MethodPatch, "/admin/api/keys/"+url.PathEscape(r.t.keyName(name)), g.Keys[name])
		if err != nil || ex.status/100 != 2 {
			return ex, err
		}
		last = ex
	}
	if g.Settings != nil {
		return r.admin(ctx, http.MethodPatch, "/admin/api/settings", g.Settings)
	}
	return last, nil
}

// label names a step in reports: its name, else its action and main
// argument ("call GET /users", "login alice", "register printer").
func (st *Step) label(index int) string {
	if st.Name != "" {
		return st.Name
	}
	if d, ok := st.Action.(interface{ describe() string }); ok {
		if s := d.describe(); s != "" {
			return st.Kind + " " + s
		}
	}
	if st.Kind == "" {
		return fmt.Sprintf("step %d", index)
	}
	return st.Kind
}

// step runs one step and checks its expectations and captures.
func (r *scenarioRun) step(ctx context.Context, st *Step, index int) (sr StepResult) {
	sr = StepResult{Name: st.label(index), Line: st.Line, Status: Passed}
	start := time.Now()
	defer func() { sr.Duration = time.Since(start) }()
	if st.Concurrently > 1 {
		r.last = nil
		a, err := r.expandAll(st.Action)
		if err != nil {
			sr.Status, sr.Error = Failed, r.mask.Scrub(err.Error())
			return sr
		}
		return r.concurrently(ctx, st, a.(action), sr)
	}
	var ex *exchange
	if st.Retry != nil {
		ex = r.retried(ctx, st, &sr)
	} else {
		ex = r.repeated(ctx, st, &sr)
	}
	sr.Exchange = render(ex, r.mask)
	return sr
}

// concurrently sends a step's request st.Concurrently times, released at
// the same instant, each on a copy of the run (its own secrets to mask,
// merged afterwards; the devices and sessions are only read). Each answer
// must meet the step's expectations, and expect.successes counts the 2xx
// ones.
func (r *scenarioRun) concurrently(ctx context.Context, st *Step, a action, sr StepResult) StepResult {
	if ra, ok := a.(*refreshAction); ok { // the alias exists before the copies read it
		if ra.Device != "" {
			r.device(ra.Device)
		} else {
			r.session(ra.User)
		}
	}
	n := st.Concurrently
	runs := make([]*scenarioRun, n)
	exs := make([]*exchange, n)
	errs := make([]error, n)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		cp := *r
		cp.mask = &redact.Set{}
		for _, v := range r.mask.Values() {
			cp.mask.Add(v)
		}
		runs[i] = &cp
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			exs[i], errs[i] = a.run(ctx, runs[i])
		}()
	}
	close(gate)
	wg.Wait()
	for _, cp := range runs {
		for _, v := range cp.mask.Values() {
			r.mask.Add(v)
		}
	}
	successes := 0
	for i := range n {
		if errs[i] != nil {
			sr.Status, sr.Error = Failed, r.mask.Scrub(errs[i].Error())
			sr.Exchange = render(runs[i].last, r.mask)
			return sr
		}
		if exs[i].status/100 == 2 {
			successes++
		}
		r.last = exs[i]
		if fs := r.check(st.Expect, exs[i]); len(fs) > 0 && len(sr.Failures) == 0 {
			sr.Failures = fs
			sr.Exchange = render(exs[i], r.mask)
		}
	}
	if e := st.Expect; e != nil && e.Successes != nil && successes != *e.Successes {
		sr.Failures = append(sr.Failures, Failure{Expectation: fmt.Sprintf("successes %d of %d sent at once", *e.Successes, n),
			Expected: fmt.Sprint(*e.Successes), Actual: fmt.Sprint(successes)})
	}
	if sr.Exchange == nil {
		sr.Exchange = render(exs[n-1], r.mask)
	}
	if len(sr.Failures) > 0 {
		sr.Status = Failed
	}
	return sr
}
