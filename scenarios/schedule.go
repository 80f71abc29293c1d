package scenarios

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// The runner schedules units: a scenario alone, or every selected scenario
// of a file with setup or teardown, which run on one server between the
// file's setup and teardown. Workers (--parallel) take the ready job with
// the lowest report position: the jobs of started units first, then the
// next unit in order, so one worker runs everything in file order.
//
// Against an outside server the scheduler also decides who may use the
// server at once: a unit that changes it through the admin API holds it
// alone from its first job to its last, the others share it. A unit waits
// for that before it starts, and later units wait behind it, so none
// starves. On the embedded target every unit has its own server.

// unit is scheduled as one.
type unit struct {
	hooks     *FileHooks
	pre, post *job   // the file's setup and teardown
	members   []*job // its scenarios, in order
	exclusive bool   // outside target: holds the server alone
	skip      string // why its setup and teardown are skipped ("" run them)

	// scheduler state, under scheduler.mu
	started, finished  bool
	preState, postDone int // 0 to hand out, 1 handed out, 2 done
	next, running      int
	alone              bool // a member that runs alone is running
	env                *embeddedEnv

	// written by the setup's job, read by later jobs (the scheduler's
	// mutex orders them)
	shared      *sharedState
	setupFailed string // why every scenario of the file fails
	ran         atomic.Bool
	envOnce     sync.Once
	envErr      error
}

// job is one entry of the report: a scenario, a setup or a teardown.
type job struct {
	u     *unit
	pos   int       // position in the report
	sc    *Scenario // the scenario, or the hook as one
	index int       // position in Run's list; -1 for a hook
	hook  string    // HookSetup, HookTeardown or ""
	alone bool      // runs alone among its unit's scenarios
}

type scheduler struct {
	mu      sync.Mutex
	cond    *sync.Cond
	t       *target
	units   []*unit
	entries int // report entries: scenarios and hooks
	limit   int // --parallel
	started int // units started
	active  int // started and not finished

	sharedHolders int  // outside target: units sharing the server
	exclusiveHeld bool // a unit holds it alone

	free, all []*embeddedEnv
}

func newScheduler(t *target, list []*Scenario, limit int) *scheduler {
	s := &scheduler{t: t, limit: limit}
	s.cond = sync.NewCond(&s.mu)
	byHooks := map[*FileHooks]*unit{}
	for i, sc := range list {
		m := &job{sc: sc, index: i}
		h := sc.Hooks
		if h == nil || (h.Setup == nil && h.Teardown == nil) {
			s.units = append(s.units, &unit{members: []*job{m}, exclusive: !t.embedded && changesServer(sc) && t.caps[NeedAdmin]})
			continue
		}
		u := byHooks[h]
		if u == nil {
			u = &unit{hooks: h}
			byHooks[h] = u
			s.units = append(s.units, u)
		}
		m.alone = changesServer(sc)
		u.members = append(u.members, m)
	}
	for _, u := range s.units {
		if h := u.hooks; h != nil {
			s.hookUnit(u)
		}
		if u.pre != nil {
			u.pre.pos = s.entries
			s.entries++
		}
		for _, m := range u.members {
			m.u, m.pos = u, s.entries
			s.entries++
		}
		if u.post != nil {
			u.post.pos = s.entries
			s.entries++
		}
	}
	return s
}

// hookUnit fills in a file unit: its setup and teardown jobs, whether it
// holds the server alone and whether its hooks run at all.
func (s *scheduler) hookUnit(u *unit) {
	h := u.hooks
	if h.Setup != nil {
		u.pre = &job{u: u, sc: h.Setup, index: -1, hook: HookSetup}
	}
	if h.Teardown != nil {
		u.post = &job{u: u, sc: h.Teardown, index: -1, hook: HookTeardown}
	}
	runs := false
	for _, m := range u.members {
		if _, reason := s.t.plan(m.sc); reason == "" {
			runs = true
		}
		if !s.t.embedded && m.alone && s.t.caps[NeedAdmin] {
			u.exclusive = true
		}
	}
	for _, hk := range []*job{u.pre, u.post} {
		if hk == nil {
			continue
		}
		if _, reason := s.t.plan(hk.sc); reason != "" && u.skip == "" {
			u.skip = fmt.Sprintf("its file's %s %s", hk.hook, reason)
		}
		if !s.t.embedded && changesServer(hk.sc) && s.t.caps[NeedAdmin] {
			u.exclusive = true
		}
	}
	if u.skip == "" && !runs {
		u.skip = "no scenario of its file runs on this target"
	}
}

// next blocks until a job is ready, or returns nil when every unit is done.
func (s *scheduler) next() *job {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		for _, u := range s.units[:s.started] {
			if !u.finished {
				if j := u.ready(); j != nil {
					return j
				}
			}
		}
		if s.started < len(s.units) && s.active < s.limit && s.acquire(s.units[s.started]) {
			u := s.units[s.started]
			s.started++
			s.active++
			u.started = true
			if s.t.embedded {
				u.env = s.takeEnv()
			}
			continue
		}
		if s.started == len(s.units) && s.active == 0 {
			return nil
		}
		s.cond.Wait()
	}
}

// ready hands out the unit's next job, if one may start now (caller holds
// scheduler.mu).
func (u *unit) ready() *job {
	if u.pre != nil && u.preState < 2 {
		if u.preState == 0 {
			u.preState = 1
			return u.pre
		}
		return nil
	}
	if u.next < len(u.members) {
		m := u.members[u.next]
		if u.alone || (m.alone && u.running > 0) {
			return nil
		}
		u.next++
		u.running++
		u.alone = m.alone
		return m
	}
	if u.running > 0 || u.post == nil || u.postDone > 0 {
		return nil
	}
	u.postDone = 1
	return u.post
}

// done records that j ended and releases what its unit held when it was
// its last.
func (s *scheduler) done(j *job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := j.u
	switch j.hook {
	case HookSetup:
		u.preState = 2
	case HookTeardown:
		u.postDone = 2
	default:
		u.running--
		if j.alone {
			u.alone = false
		}
	}
	if (u.pre == nil || u.preState == 2) && u.next == len(u.members) && u.running == 0 && (u.post == nil || u.postDone == 2) {
		u.finished = true
		s.active--
		s.release(u)
		if u.env != nil {
			s.free = append(s.free, u.env)
		}
	}
	s.cond.Broadcast()
}

// acquire takes the outside server for u, shared or alone, if it may.
func (s *scheduler) acquire(u *unit) bool {
	switch {
	case s.t.embedded:
		return true
	case u.exclusive:
		if s.exclusiveHeld || s.sharedHolders > 0 {
			return false
		}
		s.exclusiveHeld = true
	default:
		if s.exclusiveHeld {
			return false
		}
		s.sharedHolders++
	}
	return true
}

func (s *scheduler) release(u *unit) {
	switch {
	case s.t.embedded:
	case u.exclusive:
		s.exclusiveHeld = false
	default:
		s.sharedHolders--
	}
}

func (s *scheduler) takeEnv() *embeddedEnv {
	if n := len(s.free); n > 0 {
		e := s.free[n-1]
		s.free = s.free[:n-1]
		return e
	}
	e := &embeddedEnv{}
	s.all = append(s.all, e)
	return e
}

// close stops the embedded servers.
func (s *scheduler) close() {
	for _, e := range s.all {
		e.close()
	}
}

// sharedState is what a file's setup leaves to its scenarios and teardown.
type sharedState struct {
	vars      map[string]any
	devices   map[string]*deviceState
	sessions  map[string]*session
	secrets   []string
	lifetimes lifetimes
	created   [][2]string
	documents []string
}

// keep takes what r, a setup, captured, logged in and registered.
func keep(r *scenarioRun) *sharedState {
	s := &sharedState{vars: maps.Clone(r.vars), devices: map[string]*deviceState{}, sessions: map[string]*session{},
		secrets: r.mask.Values(), lifetimes: maps.Clone(r.lifetimes), created: r.created, documents: r.documents}
	copyStates(s.devices, s.sessions, r.devices, r.sessions)
	return s
}

// copyStates copies each device and session of the source maps, as a new
// value, into the destination maps.
func copyStates(devices map[string]*deviceState, sessions map[string]*session, fromDevices map[string]*deviceState, fromSessions map[string]*session) {
	for k, d := range fromDevices {
		c := *d
		devices[k] = &c
	}
	for k, x := range fromSessions {
		c := *x
		sessions[k] = &c
	}
}

// adopt gives r a copy of what setup left: a scenario's changes to it stay
// its own.
func (r *scenarioRun) adopt(s *sharedState) {
	if s == nil {
		return
	}
	maps.Copy(r.vars, s.vars)
	copyStates(r.devices, r.sessions, s.devices, s.sessions)
	for _, v := range s.secrets {
		r.mask.Add(v)
	}
	maps.Copy(r.lifetimes, s.lifetimes)
}

// executor runs jobs and records their results.
type executor struct {
	t      *target
	spec   Target
	opts   *RunOptions
	rep    *Report
	s      *scheduler
	failed atomic.Bool
	emitMu sync.Mutex
	emitFn func(Event)
}

func (ex *executor) run(ctx context.Context, j *job) {
	total := ex.s.entries
	ex.emitFn(Event{Kind: ScenarioStarted, Index: j.pos, Total: total, Scenario: j.sc})
	onStep := func(sr StepResult) {
		ex.emitFn(Event{Kind: StepFinished, Index: j.pos, Total: total, Scenario: j.sc, Step: &sr})
	}
	var res ScenarioResult
	if j.hook != "" {
		res = ex.hook(ctx, j, onStep)
	} else {
		res = ex.scenario(ctx, j, onStep)
		ex.opts.Baseline.Mark(&res)
	}
	if res.Status == Failed {
		ex.failed.Store(true)
	}
	ex.rep.Scenarios[j.pos] = res
	ex.emitFn(Event{Kind: ScenarioFinished, Index: j.pos, Total: total, Scenario: j.sc, Result: &ex.rep.Scenarios[j.pos]})
}

func (ex *executor) scenario(ctx context.Context, j *job, onStep func(StepResult)) ScenarioResult {
	sc, u := j.sc, j.u
	switch {
	case ctx.Err() != nil:
		return skippedResult(sc, "run cancelled")
	case ex.opts.FailFast && ex.failed.Load():
		return skippedResult(sc, "fail-fast")
	}
	p, reason := ex.t.plan(sc)
	if reason != "" {
		return skippedResult(sc, reason)
	}
	if u.hooks != nil && u.skip != "" {
		return skippedResult(sc, u.skip)
	}
	if u.setupFailed != "" {
		res := baseResult(sc)
		res.Status = Failed
		sr := StepResult{Name: "setup", Status: Failed, Error: u.setupFailed}
		res.Steps = append(res.Steps, sr)
		onStep(sr)
		newScenarioRun(ex.t, sc, p).skipRest(&res, 0, onStep)
		return res
	}
	r, failed := ex.prepare(ctx, j, p)
	if failed != nil {
		return *failed
	}
	u.ran.Store(true)
	if u.hooks != nil {
		r.inUnit = true
		r.adopt(u.shared)
		return r.run(ctx, onStep)
	}
	if ex.t.embedded || !changesServer(sc) || !ex.t.caps[NeedAdmin] {
		return r.run(ctx, onStep)
	}
	// Alone on the server, reset before (in run) and after, so that the
	// scenarios that cannot reset find it in its start state.
	res := r.run(ctx, onStep)
	// also after Ctrl-C: the server should not stay as the scenario left it
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	after := r.adminStep(rctx, "reset the server afterwards", func() (*exchange, error) {
		return r.admin(rctx, http.MethodPost, "/admin/api/reset", nil)
	})
	if after.Status != Passed {
		res.Steps = append(res.Steps, after)
		onStep(after)
		if res.Status == Passed {
			res.Status = Failed
		}
	}
	return res
}

// prepare makes the run of a job on its unit's server: on the embedded
// target the unit's server is started or reset by its first job. A server
// that cannot start fails the job (the returned result).
func (ex *executor) prepare(ctx context.Context, j *job, p *scenarioPlan) (*scenarioRun, *ScenarioResult) {
	tt := *ex.t
	tt.apiKey, tt.secondKey = p.apiKey, p.secondKey
	if ex.t.embedded {
		u := j.u
		u.envOnce.Do(func() { u.envErr = u.env.prepare(ctx, ex.spec) })
		if u.envErr != nil {
			res := baseResult(j.sc)
			res.Hook, res.Status = j.hook, Failed
			res.Steps = []StepResult{{Name: "start the embedded server", Status: Failed, Error: u.envErr.Error()}}
			return nil, &res
		}
		tt.base, tt.oauth, tt.admin, tt.adminToken = embeddedBase, embeddedBase, embeddedBase, u.env.token
		tt.client = u.env.client
	}
	return newScenarioRun(&tt, j.sc, p), nil
}

// hook runs a file's setup or teardown. Setup runs unless the run was
// cancelled or failed fast before it; teardown runs whenever anything of
// its file ran, after Ctrl-C too.
func (ex *executor) hook(ctx context.Context, j *job, onStep func(StepResult)) ScenarioResult {
	u := j.u
	skipped := func(reason string) ScenarioResult {
		res := skippedResult(j.sc, reason)
		res.Hook = j.hook
		return res
	}
	if u.skip != "" {
		return skipped(u.skip)
	}
	if j.hook == HookSetup {
		switch {
		case ctx.Err() != nil:
			return skipped("run cancelled")
		case ex.opts.FailFast && ex.failed.Load():
			return skipped("fail-fast")
		}
	} else {
		if !u.ran.Load() {
			return skipped("nothing of its file ran")
		}
		// also after Ctrl-C: it removes what the file made
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		ctx = c
	}
	p, _ := ex.t.plan(j.sc)
	r, failed := ex.prepare(ctx, j, p)
	if failed != nil {
		if j.hook == HookSetup {
			u.setupFailed = "setup failed: " + failed.Steps[0].Error
		}
		return *failed
	}
	u.ran.Store(true)
	r.inUnit = true
	if j.hook == HookSetup {
		r.keepCreated = true // the teardown removes them, or its clean-up does
	} else if u.shared != nil {
		r.adopt(u.shared)
		r.created, r.documents = u.shared.created, u.shared.documents
	}
	res := r.run(ctx, onStep)
	res.Hook = j.hook
	if j.hook == HookSetup {
		u.shared = keep(r)
		if res.Status != Passed {
			u.setupFailed = "setup failed: " + stepProblem(&res)
		}
	}
	return res
}

// stepProblem is why a result did not pass, naming its first step that did
// not: `step "login qa" (qa/users.yaml:4): status: expected 200, got 401`.
func stepProblem(res *ScenarioResult) string {
	for _, st := range res.Steps {
		if st.Status == Passed || st.Status == Skipped && st.Error == "" && len(st.Failures) == 0 {
			continue
		}
		at := ""
		if st.Line > 0 {
			at = fmt.Sprintf(" (%s:%d)", res.File, st.Line)
		}
		why := st.Error
		if why == "" && len(st.Failures) > 0 {
			f := st.Failures[0]
			why = fmt.Sprintf("%s: expected %s, got %s", f.Expectation, f.Expected, f.Actual)
		}
		if why == "" {
			why = string(st.Status)
		}
		return fmt.Sprintf("step %q%s: %s", st.Name, at, why)
	}
	if res.Reason != "" {
		return res.Reason
	}
	return string(res.Status)
}
