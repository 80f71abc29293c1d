// Package explore finds protocol bugs no scenario was written for: it takes
// random walks over the protocol's operations against a server, checks every
// answer against a model of the contract, and shrinks a walk that breaks it
// to a short scenario file that `paragon scenario run` replays.
package explore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"
)

// Options configure Explore.
type Options struct {
	Target Target
	Seed   uint64
	// Steps bounds the operations sent (shrinking not counted); Duration the
	// time spent exploring. At least one of them must be set.
	Steps    int
	Duration time.Duration
	// WalkLength is the number of operations of one walk before the server
	// is reset for the next (default 200).
	WalkLength int
	// Concurrency > 1 also sends some refreshes, with calls of the same
	// family, from this many connections at the same instant, and checks
	// the answers for linearizability against the model (porcupine).
	Concurrency int
	// OnProgress, if set, is called about every ProgressEvery (default 1 s).
	OnProgress    func(Progress)
	ProgressEvery time.Duration
}

// Progress is the state of an exploration.
type Progress struct {
	Ops        int // operations sent
	Walks      int // walks started
	States     int // distinct model states reached
	Violations int
	Elapsed    time.Duration
}

// Result is what Explore found.
type Result struct {
	Progress
	Seed uint64
	// Coverage counts, per operation and answer ("refresh: 400
	// invalid_grant"), how often it happened.
	Coverage map[string]int
	// Reached lists the model states seen: device standings, family
	// standings, switches.
	Reached   []string
	Violation *Violation // nil: none found
	// Impossible lists the operations the target does not allow, or rules
	// the walks cannot reach there, each with why ("advance: ...").
	Impossible []string
	// Devices counts the devices registered on a declared target, which
	// nothing resets (their client_description is DeviceDescription).
	Devices int
}

// Violation is an answer the model does not allow.
type Violation struct {
	Warning  bool   // only a rule marked [ours] was broken
	Rule     string // the contract rule
	Op       string // the operation, in words
	Expected string // the answers the model allows
	Got      Obs
	Step     int // 1-based step of the shrunk walk that broke the rule
	Walk     Walk
	Original int    // length of the walk before shrinking
	Scenario []byte // the shrunk walk as a scenario file
	Replays  int    // walks replayed while shrinking
	// Expressible: the scenario file rejects the answer (false when the
	// model allows pairs of status and error code the file cannot list
	// apart, and the server answered another pair of them).
	Expressible bool
	// NotReproduced: a replay from a reset server did not break the rule
	// again (a race); Walk is then not shrunk and Scenario is nil.
	NotReproduced bool
}

// Walk is a replayable sequence of operations: ops refer to earlier ones by
// their index.
type Walk struct {
	Grace time.Duration
	Ops   []Op
	// Fixed is where the walk starts on a target the explorer cannot
	// configure (nil: the reference server, reset, with Grace).
	Fixed *Fixed
	// Users names the accounts of the ops' User (nil: the demo users).
	Users []string
}

// Fixed is what a target file declares that a walk starts from: the
// lifetimes and the default key's switches.
type Fixed struct {
	AccessTTL, RefreshTTL, CodeTTL, Grace time.Duration
	Unauth, Untrusted, AutoTrust          bool
	File                                  string // the target file, for the replay command
}

// start is the model's state at the walk's start.
func (w Walk) start() *State {
	s := NewState(w.Grace)
	if f := w.Fixed; f != nil {
		s.AccessTTL, s.RefreshTTL, s.CodeTTL, s.Grace = f.AccessTTL, f.RefreshTTL, f.CodeTTL, f.Grace
		s.Unauth, s.Untrusted, s.AutoTrust = f.Unauth, f.Untrusted, f.AutoTrust
	}
	return s
}

// names are the account names of the ops' User.
func (w Walk) names() []string {
	if w.Users != nil {
		return w.Users
	}
	return users
}

// DeviceDescription is the client_description of the devices registered on
// a declared target.
func DeviceDescription(seed uint64) string {
	return fmt.Sprintf("paragon scenario explore (seed %d)", seed)
}

// explorer holds one exploration.
type explorer struct {
	opts     Options
	d        *driver
	c        caps
	res      *Result
	states   map[string]bool
	reached  map[string]bool
	start    time.Time
	lastProg time.Time
	replays  int
	firstAt  int  // operations sent when the first violation was found
	quiet    bool // replaying while shrinking: not counted, not covered
	// on a declared target: where walks start, and how long one may last
	// in real time (no lifetime ends within it)
	fixed    *Fixed
	walkTime time.Duration
	names    []string
}

// Explore runs random walks against opts.Target until the budget is spent or
// a violation is found (which it shrinks). The error is for a run that could
// not happen: an unreachable target (*SendError), an admin token refused
// (ErrAdminTokenRefused), ctx's error.
func Explore(ctx context.Context, opts Options) (*Result, error) {
	if opts.Steps <= 0 && opts.Duration <= 0 {
		return nil, fmt.Errorf("explore: set Steps or Duration")
	}
	if opts.WalkLength <= 0 {
		opts.WalkLength = 200
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = time.Second
	}
	x := &explorer{opts: opts, d: &driver{t: opts.Target}, res: &Result{Seed: opts.Seed, Coverage: map[string]int{}},
		states: map[string]bool{}, reached: map[string]bool{}, start: time.Now()}
	x.lastProg = x.start
	if decl := opts.Target.Declared; decl != nil {
		var err error
		if x.fixed, x.walkTime, err = fixedOf(decl); err != nil {
			return nil, err
		}
		x.d.desc = DeviceDescription(opts.Seed)
	}
	if err := x.d.connect(ctx); err != nil {
		return nil, err
	}
	if decl := opts.Target.Declared; decl != nil {
		x.c = declaredCaps(decl, x.d.accounts, opts.Target.SecondAPIKey != "")
		for _, a := range x.d.accounts {
			x.names = append(x.names, a.name)
		}
	} else {
		x.c = adminCaps(x.d.clock, opts.Target.SecondAPIKey != "")
	}
	x.res.Impossible = impossible(x.c, opts.Target.Declared, x.fixed, x.walkTime)
	var err error
	for walk := uint64(0); x.budgetLeft() && !x.done(); walk++ {
		if err = ctx.Err(); err != nil {
			break
		}
		rng := rand.New(rand.NewPCG(opts.Seed, walk))
		if err = x.walk(ctx, rng); err != nil {
			break
		}
	}
	x.res.Elapsed = time.Since(x.start)
	x.res.Devices = x.d.registered
	x.res.States = len(x.states)
	x.res.Reached = slices.Sorted(maps.Keys(x.reached))
	if opts.OnProgress != nil {
		opts.OnProgress(x.res.Progress)
	}
	return x.res, err
}

// done reports whether the exploration found what it looks for: a
// violation the scenario file can express. After one it cannot (the file
// lists statuses and error codes, not their pairs), it goes on a while for
// one of the same rule that it can.
func (x *explorer) done() bool {
	v := x.res.Violation
	return v != nil && (v.Expressible || x.res.Ops >= x.firstAt*2+20000)
}

func (x *explorer) budgetLeft() bool {
	if x.opts.Steps > 0 && x.res.Ops >= x.opts.Steps {
		return false
	}
	return x.opts.Duration <= 0 || time.Since(x.start) < x.opts.Duration
}

func (x *explorer) progress() {
	if x.opts.OnProgress == nil {
		return
	}
	if now := time.Now(); now.Sub(x.lastProg) >= x.opts.ProgressEvery {
		x.lastProg = now
		p := x.res.Progress
		p.Elapsed = now.Sub(x.start)
		p.States = len(x.states)
		x.opts.OnProgress(p)
	}
}

// graceFor picks the walk's refresh grace: none, or 30 s.
func graceFor(rng *rand.Rand) time.Duration {
	if rng.IntN(2) == 0 {
		return 0
	}
	return 30 * time.Second
}

// walk is one random walk. With Concurrency > 1, some refreshes become
// batches sent at the same instant.
func (x *explorer) walk(ctx context.Context, rng *rand.Rand) error {
	w := x.newWalk(rng)
	s := w.start()
	if err := x.d.reset(ctx, s); err != nil {
		return err
	}
	x.res.Walks++
	seen := map[string]bool{}
	began := time.Now()
	for len(w.Ops) < x.opts.WalkLength && x.budgetLeft() && x.inTime(began) {
		op := gen(s, rng, x.c)
		group := []Op{op}
		if x.opts.Concurrency > 1 && op.Kind == OpRefresh && rng.IntN(2) == 0 {
			group = makeBatch(s, op, x.opts.Concurrency, rng, len(w.Ops)+1)
		}
		start := len(w.Ops)
		w.Ops = append(w.Ops, group...)
		e, obs, _, err := x.exec(ctx, s, group, start, seen)
		if err != nil {
			return err
		}
		if e != nil {
			x.res.Violations++
			return x.found(ctx, w, e, obs)
		}
		x.note(s)
		x.progress()
	}
	return nil
}

// exec sends one operation, or one batch, starting at id start, checks the
// answers and moves s on. A violation comes back as its expectation and
// answer; got lists every answer.
func (x *explorer) exec(ctx context.Context, s *State, group []Op, start int, seen map[string]bool) (*Expectation, Obs, []Obs, error) {
	if len(group) == 1 {
		op := group[0]
		a, err := x.d.do(ctx, op, start)
		if err != nil {
			return nil, Obs{}, nil, err
		}
		x.cover(op, a.Obs)
		e, ok := Step(s, op, start, a.Obs)
		if ok {
			ok, e = checkMade(e, op, a, seen)
		}
		if !ok {
			return e, a.Obs, []Obs{a.Obs}, nil
		}
		return nil, Obs{}, []Obs{a.Obs}, nil
	}
	res, err := x.sendBatch(ctx, group, start)
	if err != nil {
		return nil, Obs{}, nil, err
	}
	got := make([]Obs, len(res))
	for k, r := range res {
		x.cover(group[k], r.a.Obs)
		got[k] = r.a.Obs
	}
	if ok, e, obs := checkBatch(s, group, start, res); !ok {
		return e, obs, got, nil
	}
	for k, r := range res {
		if ok, e := checkMade(nil, group[k], r.a, seen); !ok {
			return e, r.a.Obs, got, nil
		}
	}
	return nil, Obs{}, got, nil
}

// groups splits w's operations into what is sent at once: single
// operations, and runs of operations of one batch.
func groups(ops []Op) [][2]int {
	var out [][2]int
	for i := 0; i < len(ops); {
		j := i + 1
		for ops[i].Batch > 0 && j < len(ops) && ops[j].Batch == ops[i].Batch {
			j++
		}
		out = append(out, [2]int{i, j})
		i = j
	}
	return out
}

// checkMade checks what the model's status and error code do not: that a
// successful answer carries the tokens it must, and that they are new, and
// that a refused token's answer names the error in WWW-Authenticate.
func checkMade(e *Expectation, op Op, a answer, seen map[string]bool) (bool, *Expectation) {
	if op.Kind == OpCall && op.Ref >= 0 && (a.Error == "invalid_token" || a.Error == "insufficient_scope") {
		want := `error="` + a.Error + `"`
		if !strings.Contains(a.wwwAuth, want) {
			bad := &Expectation{Rule: "protocol.md §5.1 a refused token's answer has WWW-Authenticate: Bearer " + want + " (RFC 6750) [ours]", Doc: DocAny,
				Note: fmt.Sprintf("%d %s with WWW-Authenticate: Bearer %s", a.Status, a.Error, want), Header: want}
			bad.add(ans(a.Status, a.Error), nil)
			return false, bad
		}
	}
	if a.Status != 200 {
		return true, e
	}
	var need []string
	switch op.Kind {
	case OpRegister:
		need = []string{a.code}
	case OpPoll, OpLogin, OpRefresh:
		need = []string{a.access, a.refresh}
	}
	for _, t := range need {
		if t == "" || seen[t] {
			bad := &Expectation{Rule: "protocol.md §3.3, §3.4, §4.1: a token answer carries a new access token, refresh token or device code [doc]", Doc: DocRefused,
				Note: "200 with a new access token, refresh token or device code"}
			bad.add(ans(200), nil)
			return false, bad
		}
		seen[t] = true
	}
	return true, e
}

func (x *explorer) cover(op Op, obs Obs) {
	if x.quiet {
		return
	}
	x.res.Ops++
	k := fmt.Sprintf("%s: %d", op.Kind, obs.Status)
	if obs.Error != "" {
		k += " " + obs.Error
	}
	x.res.Coverage[k]++
}

// note records the abstract state reached.
func (x *explorer) note(s *State) {
	var b strings.Builder
	for d := range walkDevices {
		st := s.Devices[d].Status
		b.WriteByte(byte('0' + st))
		x.reached["device "+st.String()] = true
	}
	var fams [3]int
	spent := false
	for i := range s.Recs {
		r := &s.Recs[i]
		if r.IsFam {
			fams[r.FamStatus] = min(fams[r.FamStatus]+1, 3)
			kind := "user"
			if !r.UserFam {
				kind = "device"
			}
			x.reached[fmt.Sprintf("%s family %s", kind, [...]string{"alive", "revoked", "in doubt"}[r.FamStatus])] = true
		}
		if r.RSpent {
			spent = true
		}
		if r.Kind == recCode {
			switch {
			case r.Spent:
				x.reached["device code spent"] = true
			case s.Now >= r.Issued+s.CodeTTL:
				x.reached["device code expired"] = true
			default:
				x.reached["device code fresh"] = true
			}
		}
	}
	fmt.Fprintf(&b, "|%v|%t|%t%t%t|%t", fams, spent, s.Untrusted, s.Unauth, s.AutoTrust, s.Grace > 0)
	x.states[b.String()] = true
	for i, on := range [...]bool{s.Untrusted, s.Unauth, s.AutoTrust} {
		if on {
			x.reached["switch "+switchNames[i]] = true
		}
	}
}

// replay runs w from a reset server and returns the first violation: the
// index of the last operation sent, the expectation and every answer; -1 if
// none (or w is not valid).
func (x *explorer) replay(ctx context.Context, w Walk) (int, *Expectation, []Obs, error) {
	s := w.start()
	x.replays++
	if err := x.d.reset(ctx, s); err != nil {
		return -1, nil, nil, err
	}
	seen := map[string]bool{}
	var got []Obs
	began := time.Now()
	for _, g := range groups(w.Ops) {
		if !x.inTime(began) {
			return -1, nil, nil, nil // a lifetime may have ended: the model cannot say
		}
		for _, op := range w.Ops[g[0]:g[1]] {
			if !valid(s, op, x.c) {
				return -1, nil, nil, nil
			}
		}
		e, _, obs, err := x.exec(ctx, s, w.Ops[g[0]:g[1]], g[0], seen)
		if err != nil {
			return -1, nil, nil, err
		}
		got = append(got, obs...)
		if e != nil {
			return g[1] - 1, e, got, nil
		}
	}
	return -1, nil, got, nil
}

// found shrinks the failing walk and records the violation, unless an
// earlier one is as good.
func (x *explorer) found(ctx context.Context, w Walk, e *Expectation, obs Obs) error {
	if x.res.Violation == nil {
		x.firstAt = x.res.Ops
	}
	orig := len(w.Ops)
	x.quiet = true
	w, e, got, err := x.shrink(ctx, w, e, obs)
	x.quiet = false
	var v *Violation
	switch {
	case errors.Is(err, errNotReproduced):
		v = &Violation{Warning: e.Ours(obs), Rule: e.Rule, Expected: e.String(), Got: obs, Step: len(w.Ops),
			Walk: w, Original: orig, Op: describe(w, len(w.Ops)-1), NotReproduced: true}
	case err != nil:
		return err
	default:
		obs = got[len(got)-1]
		v = &Violation{Warning: e.Ours(obs), Rule: e.Rule, Expected: e.String(), Got: obs, Step: len(w.Ops), Walk: w, Original: orig}
		v.Op = describe(w, len(w.Ops)-1)
		v.Expressible = expressible(e, obs) && fileSendsAtOnce(w)
		v.Scenario = scenarioFile(w, got, e, v, x.opts.Seed)
	}
	v.Replays = x.replays
	if old := x.res.Violation; old == nil || (v.Expressible && !old.Expressible) {
		x.res.Violation = v
	}
	return nil
}

// shrink removes operations from w while the same rule still breaks, first
// in large chunks, then one at a time (delta debugging). w ends with the
// failing operation.
func (x *explorer) shrink(ctx context.Context, w Walk, e *Expectation, obs Obs) (Walk, *Expectation, []Obs, error) {
	rule := e.Rule
	// the observed answers of w, from a replay (the walk may not fail the
	// same way again: then keep it as it is)
	var got []Obs
	if i, ce, g, err := x.replay(ctx, w); err != nil {
		return w, e, nil, err
	} else if i >= 0 && ce.Rule == rule {
		w.Ops, e, got = w.Ops[:i+1], ce, g
	} else {
		return w, e, nil, errNotReproduced
	}
	budget := 4000 // replays
	for changed := true; changed && budget > 0; {
		changed = false
		for chunk := max(len(w.Ops)/2, 1); chunk >= 1 && budget > 0; chunk /= 2 {
			for start := 0; start+chunk <= len(w.Ops)-1 && budget > 0; {
				cand := without(w, start, chunk)
				budget--
				i, ce, cgot, err := x.replay(ctx, cand)
				if err != nil {
					return w, e, got, err
				}
				if i >= 0 && ce.Rule == rule && (expressible(ce, cgot[len(cgot)-1]) || !expressible(e, got[len(got)-1])) {
					cand.Ops = cand.Ops[:i+1]
					w, e, got, changed = cand, ce, cgot, true
					continue // same start: the next chunk slid into place
				}
				start += chunk
			}
		}
	}
	// the grace matters only when a walk rotates; try without it
	if w.Grace > 0 && budget > 0 && w.Fixed == nil {
		cand := w
		cand.Grace = 0
		if i, ce, cgot, err := x.replay(ctx, cand); err == nil && i >= 0 && ce.Rule == rule {
			cand.Ops = cand.Ops[:i+1]
			w, e, got = cand, ce, cgot
		}
	}
	return w, e, got, nil
}

// without removes ops [start, start+n) from w, and every later operation
// that refers to a removed one, renumbering the references of the rest.
func without(w Walk, start, n int) Walk {
	newIdx := make([]int, len(w.Ops))
	var out []Op
	for i, op := range w.Ops {
		newIdx[i] = -1
		if i >= start && i < start+n {
			continue
		}
		ok := true
		for _, r := range op.Refs() {
			if newIdx[r] < 0 {
				ok = false
			}
		}
		if !ok {
			continue
		}
		if op.Kind == OpPoll || op.Kind == OpRefresh || ((op.Kind == OpLogin || op.Kind == OpCall) && op.Ref >= 0) {
			op.Ref = newIdx[op.Ref]
		}
		newIdx[i] = len(out)
		out = append(out, op)
	}
	w.Ops = out
	return w
}

// describe says what operation i of w does, in words.
func describe(w Walk, i int) string {
	d := describeOp(w.Ops[i], w.names())
	if b := w.Ops[i].Batch; b > 0 {
		var with []string
		for j, o := range w.Ops {
			if o.Batch == b && j != i {
				with = append(with, fmt.Sprint(j+1))
			}
		}
		if len(with) > 0 {
			d += ", at the same instant as step " + strings.Join(with, ", ")
		}
	}
	return d
}

func describeOp(op Op, names []string) string {
	return describeGood(op, names) + badWords[op.Bad]
}

// badWords say what is wrong with a request (Op.Bad).
var badWords = [...]string{BadNone: "", BadKeyUnknown: " with a key no account has", BadKeyMissing: " without a key",
	BadSigWrong: " with a wrong signature", BadSigMissing: " unsigned", BadPassword: " with a wrong password", BadUserID: " with an unknown userid",
	BadRequest: " malformed", BadResponseType: " with an unknown response_type", BadGrantType: " with an unknown grant_type"}

func describeGood(op Op, names []string) string {
	switch op.Kind {
	case OpRegister:
		if op.Unsigned {
			return "register " + dev(op.Dev) + " unsigned"
		}
		return "register " + dev(op.Dev)
	case OpPoll:
		return fmt.Sprintf("exchange the device code of step %d as %s", op.Ref+1, dev(op.Dev))
	case OpApprove, OpRefuse, OpForget:
		return op.Kind.String() + " " + dev(op.Dev)
	case OpLogin:
		s := fmt.Sprintf("log in as %s (%s)", names[op.User], authNames[op.Auth])
		if op.Ref >= 0 {
			s += fmt.Sprintf(" with the access token of step %d", op.Ref+1)
		}
		return s + keyWords(op.Key)
	case OpRefresh:
		client := "api"
		if op.Dev >= 0 {
			client = dev(op.Dev)
		}
		return fmt.Sprintf("refresh with the refresh token of step %d as client %s", op.Ref+1, client) + keyWords(op.Key)
	case OpCall:
		fn := fnCalls[op.Fn]
		if op.Ref < 0 {
			return "call " + fn + " without a token"
		}
		return fmt.Sprintf("call %s with the access token of step %d", fn, op.Ref+1) + keyWords(op.Key)
	case OpAdvance:
		return "advance the clock " + op.Dur.String()
	case OpRevokeUser:
		return "revoke " + names[op.User] + "'s tokens"
	case OpRevokeDevice:
		return "revoke " + dev(op.Dev) + "'s tokens"
	case OpGrace:
		return "set " + settingNames[op.Switch] + " " + op.Dur.String()
	case OpSwitch:
		return fmt.Sprintf("set %s %t", switchNames[op.Switch], op.Flag)
	case OpKeyField:
		return "set the key's " + keyFieldYAML(op)
	}
	return op.Kind.String()
}

func keyWords(k int) string {
	if k == 1 {
		return " (second key)"
	}
	return ""
}

// CoverageLines returns the coverage as sorted lines "operation: answer  n".
func (r *Result) CoverageLines() []string {
	keys := slices.Collect(maps.Keys(r.Coverage))
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%-48s %d", k, r.Coverage[k])
	}
	return out
}

// fileSendsAtOnce reports whether the scenario file sends the walk's last
// batch, if it ends with one, at once: it can when the batch is copies of one
// refresh (concurrently: N); other batches are written one step at a time,
// which cannot show a race.
func fileSendsAtOnce(w Walk) bool {
	g := groups(w.Ops)
	last := g[len(g)-1]
	if last[1]-last[0] < 2 {
		return true
	}
	return identical(w.Ops[last[0]:last[1]]) && w.Ops[last[0]].Kind == OpRefresh
}

// errNotReproduced: a violation that did not happen again on a replay from
// a reset server (a race, or a server whose answers depend on more than
// the operations sent).
var errNotReproduced = errors.New("the violation did not happen again when the walk was replayed from a reset server")
