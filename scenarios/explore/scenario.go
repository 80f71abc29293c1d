package explore

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// scenarioFile writes w as a scenario for `paragon scenario run`: every
// operation as a step that expects what the model allows, the last one the
// step that broke the rule. Tokens and device codes go through captures.
func scenarioFile(w Walk, got []Obs, last *Expectation, v *Violation, seed uint64) []byte {
	var b strings.Builder
	q := strconv.Quote
	sev := "failure"
	if v.Warning {
		sev = "warning"
	}
	// admin, since the file has a given: `run --target` checks it against
	// the target file instead
	needs := []string{"admin"}
	used := map[int]bool{} // operations whose tokens later steps use
	second, keyed, clock := false, false, false
	for _, op := range w.Ops {
		for _, r := range op.Refs() {
			used[r] = true
		}
		if op.Key == 1 {
			second = true
		}
		if (op.Kind == OpRegister || op.Kind == OpPoll || op.Kind == OpRefresh) && op.Dev >= 0 && keyedDevice(op.Dev) {
			keyed = true
		}
		if op.Kind == OpAdvance {
			clock = true
		}
	}
	if clock {
		needs = append(needs, "clock")
	}
	if keyed {
		needs = append(needs, "device-key")
	}
	if second {
		needs = append(needs, "second-key")
	}
	if w.Fixed != nil {
		fmt.Fprintf(&b, "# Found by: paragon scenario explore --target %s --seed %d\n", w.Fixed.File, seed)
		fmt.Fprintf(&b, "# Shrunk from %d operations to %d. Replay: paragon scenario run --target %s FILE\n", v.Original, len(w.Ops), w.Fixed.File)
	} else {
		fmt.Fprintf(&b, "# Found by: paragon scenario explore --seed %d\n", seed)
		fmt.Fprintf(&b, "# Shrunk from %d operations to %d. Replay: paragon scenario run FILE\n", v.Original, len(w.Ops))
	}
	fmt.Fprintf(&b, "name: explore-seed-%d\n", seed)
	fmt.Fprintf(&b, "description: %s\n", q(fmt.Sprintf("Step %d (%s) expects %s; the server answered %s.", len(w.Ops), v.Op, v.Expected, v.Got)))
	fmt.Fprintf(&b, "rule: %s\n", q(last.Rule))
	fmt.Fprintf(&b, "severity: %s\n", sev)
	fmt.Fprintf(&b, "tags: [explore]\n")
	fmt.Fprintf(&b, "needs: [%s]\n", strings.Join(needs, ", "))
	s := w.start()
	fmt.Fprintf(&b, "given:\n  settings: {access_token_ttl: %s, refresh_token_ttl: %s, device_code_ttl: %s, refresh_grace: %s}\n",
		s.AccessTTL, s.RefreshTTL, s.CodeTTL, s.Grace)
	if w.Fixed != nil {
		// the switches the walk assumed: the run checks the file declares them
		fmt.Fprintf(&b, "  keys: {default: {allow_unauthenticated: %t, allow_untrusted: %t, auto_trust: %t}}\n", s.Unauth, s.Untrusted, s.AutoTrust)
	}
	b.WriteString("steps:\n")
	registered := map[int]bool{}
	for _, g := range groups(w.Ops) {
		lastGroup := g[1] == len(w.Ops)
		if g[1]-g[0] > 1 && identical(w.Ops[g[0]:g[1]]) && w.Ops[g[0]].Kind == OpRefresh {
			// a batch of one refresh: one step sent concurrently
			op, n := w.Ops[g[0]], g[1]-g[0]
			fmt.Fprintf(&b, "  - name: %s\n", q(fmt.Sprintf("%d-%d: %s, %d times at the same instant", g[0]+1, g[1], describeOp(op, w.names()), n)))
			b.WriteString("    " + stepAction(op, registered, w.names()) + "\n")
			fmt.Fprintf(&b, "    concurrently: %d\n", n)
			b.WriteString("    expect: " + concurrentExpectYAML(s, op, g[0], n) + "\n")
			if !lastGroup {
				for i := g[0]; i < g[1]; i++ {
					if e := Expect(s, w.Ops[i]); e.Match(got[i]) >= 0 {
						e.Apply(s, e.Match(got[i]), i)
					}
				}
			}
			continue
		}
		for i := g[0]; i < g[1]; i++ {
			op := w.Ops[i]
			var e *Expectation
			if i == len(w.Ops)-1 {
				e = last
			} else {
				e = Expect(s, op)
			}
			fmt.Fprintf(&b, "  - name: %s\n", q(fmt.Sprintf("%d: %s", i+1, describe(w, i))))
			b.WriteString("    " + stepAction(op, registered, w.names()) + "\n")
			x := expectYAML(e)
			if e.Header != "" {
				x = fmt.Sprintf("{status: %d, headers: {WWW-Authenticate: {matches: %s}}}", e.Answers[0].Status, strconv.Quote(e.Header))
			}
			if op.Kind == OpRefresh && len(e.Answers) == 1 && e.Answers[0].Status == 200 {
				// a rotation: the answer's refresh token is not the one sent
				x = fmt.Sprintf(`{status: 200, json: {refresh_token: {not_equals: "${rt%d}"}}}`, op.Ref+1)
			}
			if x != "" {
				b.WriteString("    expect: " + x + "\n")
			}
			if c := captureYAML(op, i, used); c != "" {
				b.WriteString("    capture: " + c + "\n")
			}
			// follow the answers the server gave
			if i < len(w.Ops)-1 {
				if k := e.Match(got[i]); k >= 0 {
					e.Apply(s, k, i)
				}
			}
		}
	}
	return []byte(b.String())
}

func dev(d int) string { return fmt.Sprintf("d%d", d) }

// keyField is a step's api_key: the second key, or what op's Bad makes
// of it.
func keyField(op Op) string {
	if b := badFields(op); b != "" {
		return b
	}
	if op.Key == 1 {
		return `, api_key: "${second_api_key}"`
	}
	return ""
}

// badFields are the step fields that make a request as wrong as op.Bad.
func badFields(op Op) string {
	switch op.Bad {
	case BadKeyUnknown:
		return ", api_key: " + wrongAPIKey
	case BadKeyMissing:
		return ", api_key: none"
	case BadSigMissing:
		return `, sign: "no"`
	case BadSigWrong:
		return ", sign: wrong"
	case BadRequest:
		return ", client_type: " + badClientType
	case BadGrantType:
		return ", form: {grant_type: " + badGrantType + "}"
	}
	return ""
}

func stepAction(op Op, registered map[int]bool, names []string) string {
	switch op.Kind {
	case OpRegister:
		first := !registered[op.Dev]
		registered[op.Dev] = true
		switch {
		case first && keyedDevice(op.Dev):
			return fmt.Sprintf("register: {device: %s, key: ed25519%s}", dev(op.Dev), badFields(op))
		case op.Unsigned:
			return fmt.Sprintf(`register: {device: %s, sign: "no"}`, dev(op.Dev))
		case op.Bad != BadNone:
			return fmt.Sprintf("register: {device: %s%s}", dev(op.Dev), badFields(op))
		}
		return "register: " + dev(op.Dev)
	case OpPoll:
		return fmt.Sprintf(`device_token: {device: %s, device_code: "${dc%d}"%s}`, dev(op.Dev), op.Ref+1, badFields(op))
	case OpApprove, OpRefuse:
		return op.Kind.String() + ": " + dev(op.Dev)
	case OpForget:
		return "untrust: " + dev(op.Dev)
	case OpLogin:
		s := fmt.Sprintf("login: {user: %s, authtype: %s", names[op.User], authNames[op.Auth])
		if op.Ref >= 0 {
			s += fmt.Sprintf(`, device_token: "${at%d}"`, op.Ref+1)
		} else {
			s += ", device: none" // the model's login sends no device token
		}
		return s + keyField(op) + "}"
	case OpRefresh:
		who := "user: api"
		if op.Dev >= 0 {
			who = "device: " + dev(op.Dev)
		}
		return fmt.Sprintf(`refresh: {%s, token: "${rt%d}", keep: true%s}`, who, op.Ref+1, keyField(op))
	case OpCall:
		if op.Ref < 0 {
			return "call: {path: /version" + keyField(op) + "}"
		}
		return fmt.Sprintf(`call: {path: /version, token: "${at%d}"%s}`, op.Ref+1, keyField(op))
	case OpAdvance:
		return "advance: " + op.Dur.String()
	case OpRevokeUser:
		return "revoke: {user: " + names[op.User] + "}"
	case OpRevokeDevice:
		return "revoke: {device: " + dev(op.Dev) + "}"
	case OpGrace:
		return "settings: {" + settingNames[op.Switch] + ": " + op.Dur.String() + "}"
	case OpKeyField:
		return "key: {" + keyFieldYAML(op) + "}"
	case OpSwitch:
		return fmt.Sprintf("key: {%s: %t}", switchNames[op.Switch], op.Flag)
	}
	return ""
}

// expectYAML writes e's answers as a step's expect (empty: 2xx, the default).
func expectYAML(e *Expectation) string {
	if len(e.Answers) == 1 && e.Answers[0].Status == 0 {
		return ""
	}
	var statuses []string
	var errs []string
	withoutError := false
	for _, a := range e.Answers {
		st := a.Status
		if st == 0 {
			st = 200
		}
		if s := fmt.Sprint(st); !slices.Contains(statuses, s) {
			statuses = append(statuses, s)
		}
		if len(a.Errors) == 0 {
			withoutError = true
		}
		for _, x := range a.Errors {
			if !slices.Contains(errs, x) {
				errs = append(errs, x)
			}
		}
	}
	out := "{status: " + statuses[0]
	if len(statuses) > 1 {
		out = "{status: [" + strings.Join(statuses, ", ") + "]"
	}
	switch {
	case withoutError || len(errs) == 0:
	case len(errs) == 1:
		out += ", json: {error: " + errs[0] + "}"
	default:
		out += ", json: {error: {one_of: [" + strings.Join(errs, ", ") + "]}}"
	}
	return out + "}"
}

// identical reports whether ops are copies of one operation.
func identical(ops []Op) bool {
	for _, op := range ops[1:] {
		op.Batch = ops[0].Batch
		if op != ops[0] {
			return false
		}
	}
	return true
}

// concurrentExpectYAML is the expect of n copies of op sent at once: the
// statuses the model allows them, and how many succeed when it says so.
func concurrentExpectYAML(s *State, op Op, id, n int) string {
	c := s.Clone()
	var statuses []string
	successes, sure := 0, true
	for k := range n {
		e := Expect(c, op)
		has200, hasOther := false, false
		for _, a := range e.Answers {
			st := a.Status
			if st == 0 {
				st = 200
			}
			if st == 200 {
				has200 = true
			} else {
				hasOther = true
			}
			if x := fmt.Sprint(st); !slices.Contains(statuses, x) {
				statuses = append(statuses, x)
			}
		}
		if has200 && hasOther {
			sure = false
		}
		if has200 {
			successes++
		}
		e.Apply(c, 0, id+k)
	}
	out := "{status: [" + strings.Join(statuses, ", ") + "]"
	if sure {
		out += fmt.Sprintf(", successes: %d", successes)
	}
	return out + "}"
}

// expressible reports whether the expectation a scenario file can write for
// e (a list of statuses and one of error codes, not their pairs) rejects
// obs.
func expressible(e *Expectation, obs Obs) bool {
	statusOK, errOK, anyWithoutError := false, false, false
	for _, a := range e.Answers {
		st := a.Status
		if st == 0 {
			st = 200
		}
		if st == obs.Status || (a.Status == 0 && obs.Status >= 200 && obs.Status < 300) {
			statusOK = true
		}
		if len(a.Errors) == 0 {
			anyWithoutError = true
		}
		if slices.Contains(a.Errors, obs.Error) {
			errOK = true
		}
	}
	return !statusOK || (!anyWithoutError && !errOK) || e.Note != ""
}

func captureYAML(op Op, i int, used map[int]bool) string {
	if !used[i] {
		return ""
	}
	n := i + 1
	switch op.Kind {
	case OpRegister:
		return fmt.Sprintf("{dc%d: $.device_code}", n)
	case OpLogin:
		return fmt.Sprintf("{at%d: $.token.access_token, rt%d: $.token.refresh_token}", n, n)
	case OpPoll, OpRefresh:
		return fmt.Sprintf("{at%d: $.access_token, rt%d: $.refresh_token}", n, n)
	}
	return ""
}

// keyFieldYAML is an OpKeyField as a key patch field: "active: false".
func keyFieldYAML(op Op) string {
	switch op.Switch {
	case FieldActive:
		return fmt.Sprintf("active: %t", !op.Flag)
	case FieldIPs:
		if op.Flag {
			return "allowed_ips: [" + outsideIPs + "]"
		}
		return "allowed_ips: []"
	case FieldExpiry:
		if op.Flag {
			return `expires_at: "` + pastExpiry + `"`
		}
		return `expires_at: ""`
	}
	return "permissions: [" + strings.Join(permNames(op.Perms), ", ") + "]"
}
