package explore

import (
	"flag"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite testdata/builtin-coverage.txt")

// TestModelPredictsBuiltinSuite replays the steps of every built-in
// scenario through the model and checks that it allows the answer each step
// expects. Scenarios with a step the model does not cover are listed, with
// the reason, in testdata/builtin-coverage.txt; the test keeps that list
// true (run with -update to rewrite it).
func TestModelPredictsBuiltinSuite(t *testing.T) {
	files, err := filepath.Glob("../builtin/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no built-in scenarios: %v", err)
	}
	var lines []string
	covered := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(data)))
		for {
			var sc map[string]any
			if err := dec.Decode(&sc); err != nil {
				break
			}
			name, _ := sc["name"].(string)
			r := &translator{devs: map[string]int{}, sessions: map[string]int{}, vars: map[string]int{}, devPair: map[string]int{}, devCode: map[string]int{}}
			why, fail := r.run(sc)
			switch {
			case fail != "":
				t.Errorf("%s (%s): %s", name, filepath.Base(f), fail)
				lines = append(lines, name+": FAILS "+fail)
			case why != "":
				lines = append(lines, name+": excluded: "+why)
			default:
				covered++
				lines = append(lines, name+": covered")
			}
		}
	}
	sort.Strings(lines)
	got := fmt.Sprintf(`# Built-in scenarios replayed through the model (TestModelPredictsBuiltinSuite): %d of %d covered.
# The model predicts each covered scenario's statuses and error codes (and,
# for the admin API's device list, the device's standing). The scenarios
# left out are excluded on principle: they use the reference server's test
# controls (section 7.3), whose answers are what the test asked for, not
# rules of the contract (injected faults), or start the server afresh in
# the middle (reset), which a model stands for by a new state, not by a
# step.
%s
`, covered, len(lines), strings.Join(lines, "\n"))
	golden := filepath.Join("testdata", "builtin-coverage.txt")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestModelPredictsBuiltinSuite ./scenarios/explore/ -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s is out of date (run with -update):\n%s", golden, got)
	}
	for _, l := range lines {
		if _, why, ok := strings.Cut(l, ": excluded: "); ok && !strings.HasPrefix(why, notProtocol) {
			t.Errorf("%s: the model should predict it (only the test controls are excluded on principle)", l)
		}
	}
}

// suiteCaps is what the replayed scenarios may do: all the model's devices.
var suiteCaps = func() caps {
	c := adminCaps(true, true)
	c.devices = numDevices
	for _, name := range suiteUsers[len(users):] { // the users scenarios create, by name
		c.accounts = append(c.accounts, account{name: name, ids: [len(authNames)]string{name, "", "", name, ""}})
	}
	return c
}()

// translator turns a scenario's steps into model operations.
type translator struct {
	s        *State
	ops      int
	devs     map[string]int // alias → model device
	sessions map[string]int // session → its current token pair (operation id)
	devPair  map[string]int // device alias → its current token pair
	devCode  map[string]int // device alias → its current device code
	vars     map[string]int // captured variable → the operation that made it
	// loginDevs counts the devices logins registered for themselves, by key
	loginDevs [2]int
	step      int
	passwords map[int]string // the passwords of the users the scenario created
}

// skip is a step or header the model does not cover.
type skip string

// notProtocol starts the reason of a principled exclusion: a step that
// uses the reference server's test controls rather than the protocol.
const notProtocol = "not the protocol: "

func (r *translator) run(sc map[string]any) (excluded, failed string) {
	defer func() {
		if p := recover(); p != nil {
			s, ok := p.(skip)
			if !ok {
				panic(p)
			}
			excluded = string(s)
		}
	}()
	// the reference server's start: the demo account's lifetimes
	r.s = &State{AccessTTL: time.Hour, RefreshTTL: 2160 * time.Hour, CodeTTL: 72 * time.Hour, Absent: startAbsent}
	r.given(sc["given"])
	steps, _ := sc["steps"].([]any)
	for i, st := range steps {
		r.step = i + 1
		if msg := r.doStep(st.(map[string]any)); msg != "" {
			return "", fmt.Sprintf("step %d: %s", i+1, msg)
		}
	}
	return "", ""
}

func (r *translator) given(g any) {
	m, _ := g.(map[string]any)
	for k, v := range m {
		switch k {
		case "key":
			r.switches(v, true)
		case "keys":
			for name, p := range v.(map[string]any) {
				if name != "default" {
					panic(skip("given: key " + name + " (the model has the second key's switches off)"))
				}
				r.switches(p, true)
			}
		case "settings":
			r.settings(v, true)
		default:
			panic(skip("given: " + k))
		}
	}
}

// switches applies a key patch (given) or returns it as operations.
func (r *translator) switches(v any, given bool) []Op {
	var ops []Op
	m, _ := v.(map[string]any)
	keys := slices.Sorted(maps.Keys(m))
	for _, k := range keys {
		val := m[k]
		if k == "name" {
			if val != "default" {
				panic(skip("key: a key other than the default one"))
			}
			continue
		}
		if op, ok := keyPatchOp(k, val); ok {
			if given {
				Expect(r.s, op).Apply(r.s, 0, 0)
			}
			ops = append(ops, op)
			continue
		}
		i := slices.Index(switchNames[:], k)
		b, ok := val.(bool)
		if i < 0 || !ok {
			panic(skip("key field " + k + " (the model has the switches, active, allowed_ips, expires_at and permissions)"))
		}
		if given {
			*[]*bool{&r.s.Untrusted, &r.s.Unauth, &r.s.AutoTrust}[i] = b
		}
		ops = append(ops, Op{Kind: OpSwitch, Switch: i, Flag: b})
	}
	return ops
}

func (r *translator) settings(v any, given bool) []Op {
	var ops []Op
	for k, val := range v.(map[string]any) {
		d, err := time.ParseDuration(fmt.Sprint(val))
		if err != nil {
			panic(skip("settings " + k))
		}
		i := slices.Index(settingNames[:], k)
		if i < 0 {
			panic(skip("settings " + k))
		}
		op := Op{Kind: OpGrace, Switch: i, Dur: d}
		if given {
			Expect(r.s, op).Apply(r.s, 0, 0)
		}
		ops = append(ops, op)
	}
	return ops
}

// keyPatchOp turns a key patch field other than a switch into an operation.
func keyPatchOp(k string, val any) (Op, bool) {
	list, _ := val.([]any)
	switch k {
	case "active":
		b, ok := val.(bool)
		return Op{Kind: OpKeyField, Switch: FieldActive, Flag: !b}, ok
	case "allowed_ips":
		out := false // whether the ranges leave 127.0.0.1 out
		for _, c := range list {
			out = true
			if strings.HasPrefix(fmt.Sprint(c), "127.") {
				return Op{Kind: OpKeyField, Switch: FieldIPs}, true
			}
		}
		return Op{Kind: OpKeyField, Switch: FieldIPs, Flag: out}, true
	case "expires_at":
		switch val {
		case "", pastExpiry:
			return Op{Kind: OpKeyField, Switch: FieldExpiry, Flag: val == pastExpiry}, true
		}
		// a date: the fake clock starts at the real time
		at, err := time.Parse(time.RFC3339, fmt.Sprint(val))
		if err != nil || !at.After(time.Now()) {
			panic(skip(fmt.Sprintf("expires_at %v", val)))
		}
		return Op{Kind: OpKeyField, Switch: FieldExpiry, Dur: time.Until(at)}, true
	case "permissions":
		var p uint8
		for _, f := range list {
			i := slices.Index([]string{"login", "version", "account", "users", "documents"}, fmt.Sprint(f))
			if i < 0 {
				panic(skip("permissions " + fmt.Sprint(f)))
			}
			p |= 1 << i
		}
		return Op{Kind: OpKeyField, Switch: FieldPerms, Perms: p}, true
	}
	return Op{}, false
}

// unknownToken makes a token pair the server never issued, as a family
// whose every token is dead (a device family for a device token, so that a
// login sees an untrusted device token), and returns its operation id.
func (r *translator) unknownToken(device bool) int {
	id := r.ops
	for len(r.s.Recs) <= id {
		r.s.Recs = append(r.s.Recs, Rec{})
	}
	r.s.Recs[id] = Rec{Kind: recPair, Fam: id, IsFam: true, UserFam: !device, Dev: -1, FamStatus: FamRevoked}
	r.ops++
	return id
}

// unknownCode makes a device code the server never issued: one of no
// device.
func (r *translator) unknownCode() int {
	id := r.ops
	for len(r.s.Recs) <= id {
		r.s.Recs = append(r.s.Recs, Rec{})
	}
	r.s.Recs[id] = Rec{Kind: recCode, Dev: -1}
	r.ops++
	return id
}

// device returns the model device of an alias, assigning one on first use.
func (r *translator) device(alias string, keyed bool) int {
	if alias == "" {
		alias = "device"
	}
	if d, ok := r.devs[alias]; ok {
		return d
	}
	if len(r.devs) == numDevices {
		panic(skip(fmt.Sprintf("more than %d devices", numDevices)))
	}
	d := len(r.devs)
	r.devs[alias] = d
	r.s.Devices[d].Keyed = keyed
	return d
}

func str(m map[string]any, k string) string {
	v, _ := m[k].(string)
	return v
}

// only panics with a skip when m has a field outside allowed.
func only(kind string, m map[string]any, allowed ...string) {
	for k := range m {
		if !slices.Contains(allowed, k) {
			panic(skip(kind + "." + k))
		}
	}
}

// ref resolves "${var}" or "${alias.access_token}" style references to the
// operation that made the token or code.
func (r *translator) ref(v string) int {
	name, ok := strings.CutPrefix(v, "${")
	name, ok2 := strings.CutSuffix(name, "}")
	if !ok && !strings.Contains(v, "${") {
		return r.unknownToken(false) // a token the server never issued
	}
	if !ok || !ok2 {
		panic(skip("a literal token or code"))
	}
	if id, ok := r.vars[name]; ok {
		return id
	}
	alias, field, _ := strings.Cut(name, ".")
	switch field {
	case "access_token", "refresh_token":
		if id, ok := r.devPair[alias]; ok {
			return id
		}
		if id, ok := r.sessions[alias]; ok {
			return id
		}
	case "device_code":
		if id, ok := r.devCode[alias]; ok {
			return id
		}
	}
	panic(skip("the variable " + name))
}

// key is the step's api_key: the default key (0), the second (1), none
// or one the account does not have (a Bad).
func (r *translator) key(m map[string]any) (int, uint8) {
	switch v := str(m, "api_key"); v {
	case "":
		return 0, BadNone
	case "${second_api_key}":
		return 1, BadNone
	case "none":
		return 0, BadKeyMissing
	default:
		if strings.Contains(v, "${") {
			panic(skip("api_key " + v))
		}
		return 0, BadKeyUnknown
	}
}

// sign is the step's sign: as the device does (BadNone), no, wrong.
func sign(m map[string]any) uint8 {
	switch v := str(m, "sign"); v {
	case "", "auto", "yes":
		return BadNone
	case "no":
		return BadSigMissing
	case "wrong":
		return BadSigWrong
	default:
		panic(skip("sign " + v))
	}
}

// form is a step's form: nothing, or one field that makes the request bad.
func form(m map[string]any) uint8 {
	f, _ := m["form"].(map[string]any)
	switch {
	case len(f) == 0:
		return BadNone
	case len(f) == 1 && f["grant_type"] != nil && f["grant_type"] != "device_code" && f["grant_type"] != "refresh_token":
		return BadGrantType
	case len(f) == 1 && f["key_type"] != nil:
		return BadRequest // a key_type without a public_key, or one not in the list
	}
	panic(skip(fmt.Sprintf("form %v", f)))
}

// doStep runs one step through the model; "" when the model allows what
// the step expects.
func (r *translator) doStep(st map[string]any) string {
	var kind string
	var arg any
	for _, k := range []string{"register", "approve", "refuse", "untrust", "device_token", "refresh", "login", "call", "advance", "key", "settings", "revoke", "fault", "http"} {
		if v, ok := st[k]; ok {
			kind, arg = k, v
		}
	}
	m, isMap := arg.(map[string]any)
	scalar, _ := arg.(string)
	if !isMap {
		m = map[string]any{}
	}
	var ops []Op
	after := func(Op, Obs) {}
	switch kind {
	case "register":
		only("register", m, "device", "key", "sign", "description", "client_type", "state", "omit", "form", "api_key", "response_type", "client_id")
		alias := scalar + str(m, "device")
		k := str(m, "key")
		d0, known := r.devs[alias]
		known = known && r.s.Devices[d0].Status != DevUnknown && r.s.Devices[d0].Status != DevForgotten
		d := r.device(alias, k != "" && k != "none" && k != "keep")
		op := Op{Kind: OpRegister, Dev: d}
		// a known device registering a new key signs with its old one: a
		// signed re-registration; signed by the new key, the signature is
		// not the registered key's
		switch str(m, "sign") {
		case "new-key":
			if known {
				op.Bad = BadSigWrong
			}
		case "no":
			op.Unsigned = true
		default:
			op.Bad = sign(m)
		}
		if b := form(m); b != BadNone {
			op.Bad = b
		}
		if ct := str(m, "client_type"); ct != "" && !slices.Contains([]string{"printer", "chrome_extension", "desktop_client", "mobile_device", "server"}, ct) {
			op.Bad = BadRequest
		}
		if rt := str(m, "response_type"); rt != "" && rt != "device_code" {
			op.Bad = BadResponseType
		}
		if str(m, "client_id") == "api" {
			op.Bad = BadRequest
		} else if str(m, "client_id") != "" {
			panic(skip("register.client_id " + str(m, "client_id")))
		}
		omit, _ := m["omit"].([]any)
		for _, f := range omit {
			switch f {
			case "client_id", "client_type", "response_type", "key_type", "public_key":
				op.Bad = BadRequest
			case "client_secret":
				op.Bad = BadKeyMissing
			default:
				panic(skip(fmt.Sprintf("register.omit %v", f)))
			}
		}
		if _, kb := r.key(m); kb != BadNone {
			op.Bad = kb
		}
		ops = []Op{op}
		after = func(op Op, obs Obs) {
			if obs.Status == 200 {
				r.devCode[alias] = r.ops
			}
		}
	case "approve", "refuse", "untrust":
		alias := scalar + str(m, "device")
		d, ok := r.devs[alias]
		if !ok {
			panic(skip(kind + " of an unregistered device"))
		}
		ops = []Op{{Kind: map[string]OpKind{"approve": OpApprove, "refuse": OpRefuse, "untrust": OpForget}[kind], Dev: d}}
	case "device_token":
		only("device_token", m, "device", "poll", "max_polls", "interval", "device_code", "client_id", "sign", "form", "api_key")
		alias := scalar + str(m, "device")
		if alias == "" {
			alias = "device"
		}
		d, ok := r.devs[alias]
		if !ok {
			panic(skip("device_token of an unregistered device"))
		}
		code, ok := r.devCode[alias]
		if c := str(m, "device_code"); c != "" && !strings.Contains(c, "${") {
			code, ok = r.unknownCode(), true // a code the server never issued
		} else if c != "" {
			code, ok = r.ref(c), true
		}
		if !ok {
			panic(skip("device_token without a device code"))
		}
		if c := str(m, "client_id"); c != "" {
			other, _ := strings.CutSuffix(strings.TrimPrefix(c, "${"), ".client_id}")
			od, known := r.devs[other]
			if !known {
				panic(skip("device_token.client_id " + c))
			}
			d = od
		}
		if str(m, "poll") == "until-done" {
			return r.pollUntilDone(st, m, alias, d, code)
		}
		op := Op{Kind: OpPoll, Dev: d, Ref: code, Bad: sign(m)}
		if b := form(m); b != BadNone {
			op.Bad = b
		}
		if _, kb := r.key(m); kb != BadNone {
			op.Bad = kb
		}
		ops = []Op{op}
		after = func(op Op, obs Obs) {
			if obs.Status == 200 {
				r.devPair[alias] = r.ops
			}
		}
	case "refresh":
		only("refresh", m, "device", "user", "token", "keep", "client_id", "api_key", "sign")
		var op Op
		cur := -1
		var set func(int)
		if alias := str(m, "device"); alias != "" {
			d, ok := r.devs[alias]
			if !ok {
				panic(skip("refresh of an unregistered device"))
			}
			op.Dev = d
			cur, ok = r.devPair[alias]
			if !ok {
				cur = -1
			}
			set = func(id int) { r.devPair[alias] = id }
		} else {
			op.Dev = -1
			u := str(m, "user")
			var ok bool
			if cur, ok = r.sessions[u]; !ok {
				cur = -1
			}
			set = func(id int) { r.sessions[u] = id }
		}
		if c := str(m, "client_id"); c == "api" {
			op.Dev = -1
		} else if c != "" {
			other, _ := strings.CutSuffix(strings.TrimPrefix(c, "${"), ".client_id}")
			od, known := r.devs[other]
			if !known {
				panic(skip("refresh.client_id " + c))
			}
			op.Dev = od
		}
		if t := str(m, "token"); t != "" {
			cur = r.ref(t)
		}
		if cur < 0 {
			panic(skip("refresh without tokens"))
		}
		op.Kind, op.Ref = OpRefresh, cur
		op.Key, op.Bad = r.key(m)
		if b := sign(m); b != BadNone {
			op.Bad = b
		}
		keep, _ := m["keep"].(bool)
		ops = []Op{op}
		after = func(op Op, obs Obs) {
			if obs.Status == 200 && !keep {
				set(r.ops)
			}
		}
	case "login":
		only("login", m, "user", "authtype", "device", "device_token", "method", "as", "api_key", "password", "userid", "omit")
		u := scalar + str(m, "user")
		var bad uint8
		auth := 0
		if a, ok := m["authtype"]; ok {
			auth = slices.Index(authNames[:], fmt.Sprint(a))
			if auth < 0 {
				if n, err := strconv.Atoi(fmt.Sprint(a)); err == nil && (n < 0 || n > 4) {
					auth, bad = 0, BadRequest
				} else {
					panic(skip(fmt.Sprintf("login.authtype %v", a)))
				}
			}
		}
		ui := slices.Index(suiteUsers, u)
		if id := str(m, "userid"); id != "" && slices.Contains(suiteUsers, id) {
			ui, u = slices.Index(suiteUsers, id), id
		} else if id != "" {
			// a userid of the demo users, or one no user has
			ui = slices.IndexFunc(demoAccounts(), func(a account) bool { return a.ids[auth] == id })
			if ui < 0 {
				ui, bad = 0, BadUserID
			}
			if u == "" {
				u = id
			}
		}
		if ui < 0 {
			panic(skip("login as " + u))
		}
		if p := str(m, "password"); p != "" && bad == BadNone && p != r.password(ui) {
			bad = BadPassword
		}
		if omit, _ := m["omit"].([]any); len(omit) > 0 {
			if len(omit) != 1 || omit[0] != "userid" {
				panic(skip(fmt.Sprintf("login.omit %v", omit)))
			}
			bad = BadRequest
		}
		ref := -1
		if str(m, "device") == "wrong" {
			ref = r.unknownToken(true)
		} else if dv := str(m, "device"); dv != "" && dv != "none" {
			id, ok := r.devPair[dv]
			if !ok {
				panic(skip("login.device " + dv))
			}
			ref = id
		}
		if t := str(m, "device_token"); t != "" {
			ref = r.ref(t)
		}
		as := str(m, "as")
		if as == "" {
			as = u
		}
		key, kb := r.key(m)
		if kb != BadNone {
			bad = kb
		}
		if dv := str(m, "device"); (dv == "" || dv == "auto") && str(m, "device_token") == "" && (key != 0 || !r.s.Untrusted) {
			// device: auto, as the runner does it: a device of the
			// scenario's own, registered, approved and exchanged once,
			// refreshed before each later login
			alias := fmt.Sprintf("login device %d/%d", key, r.loginDevs[key])
			pair, ok := r.devPair[alias]
			renew := Op{Kind: OpRefresh, Dev: r.devs[alias], Ref: pair, Key: key}
			if ok && Expect(r.s, renew).Answers[0].Status == 200 {
				ops = append(ops, renew)
				ref = r.ops
				r.devPair[alias] = r.ops
			} else {
				if ok { // the refresh fails (not modelled as a step): a new device
					r.loginDevs[key]++
					alias = fmt.Sprintf("login device %d/%d", key, r.loginDevs[key])
				}
				d := r.device(alias, false)
				ops = append(ops, Op{Kind: OpRegister, Dev: d, Key: key}, Op{Kind: OpApprove, Dev: d}, Op{Kind: OpPoll, Dev: d, Ref: r.ops, Key: key})
				ref = r.ops + 2
				r.devPair[alias] = ref
			}
		}
		ops = append(ops, Op{Kind: OpLogin, User: ui, Auth: auth, Ref: ref, Key: key, Bad: bad})
		after = func(op Op, obs Obs) {
			if obs.Status == 200 && op.Kind == OpLogin {
				r.sessions[as] = r.ops
			}
		}
	case "call":
		only("call", m, "method", "path", "query", "as", "token", "api_key", "form", "multipart")
		method, path := str(m, "method"), str(m, "path")
		if scalar != "" {
			method, path, _ = strings.Cut(scalar, " ")
		}
		op := r.function(method, path, m)
		ref := -1
		as := str(m, "as")
		switch {
		case str(m, "token") != "":
			ref = r.ref(str(m, "token"))
		case strings.HasPrefix(as, "device:"):
			id, ok := r.devPair[strings.TrimPrefix(as, "device:")]
			if !ok {
				panic(skip("call as " + as))
			}
			ref = id
		case as != "" && as != "nobody":
			id, ok := r.sessions[as]
			if !ok {
				panic(skip("call as " + as + " without a session"))
			}
			ref = id
		}
		op.Ref = ref
		op.Key, op.Bad = r.key(m)
		if op.Bad == BadNone {
			op.Bad = r.history(op, m)
		}
		ops = []Op{op}
	case "advance":
		d, err := time.ParseDuration(fmt.Sprint(arg))
		if err != nil {
			d = r.lifetime(fmt.Sprint(arg))
		}
		ops = []Op{{Kind: OpAdvance, Dur: d}}
	case "key":
		ops = r.switches(arg, false)
	case "settings":
		ops = r.settings(arg, false)
	case "revoke":
		if u := str(m, "user"); u != "" {
			ops = []Op{{Kind: OpRevokeUser, User: slices.Index(users, u)}}
		} else if d, ok := r.devs[str(m, "device")]; ok {
			ops = []Op{{Kind: OpRevokeDevice, Dev: d}}
		} else {
			panic(skip("revoke"))
		}
	case "http":
		var msg string
		if ops, msg = r.http(m, st["expect"]); msg != "" {
			return msg
		}
	case "fault":
		panic(skip(notProtocol + "an injected fault (section 7.3) answers what the test asked for, not what the contract says"))
	default:
		panic(skip("a " + kind + " step"))
	}
	for i, op := range ops {
		var want map[string]any
		if i == len(ops)-1 {
			want, _ = st["expect"].(map[string]any)
		}
		obs, msg := r.check(op, want)
		if msg != "" {
			return msg
		}
		after(op, obs)
		r.ops++
	}
	r.capture(st["capture"])
	return ""
}

// pollUntilDone follows the runner's until-done loop: poll, and while the
// model says to wait, move the clock the interval and poll again.
func (r *translator) pollUntilDone(st, m map[string]any, alias string, d, code int) string {
	interval := 5 * time.Second
	if v := str(m, "interval"); v != "" {
		interval, _ = time.ParseDuration(v)
	}
	polls := 10
	if n, ok := m["max_polls"].(int); ok {
		polls = n
	}
	for i := range polls {
		if i > 0 {
			if _, msg := r.check(Op{Kind: OpAdvance, Dur: interval}, nil); msg != "" {
				return msg
			}
			r.ops++
		}
		e := Expect(r.s, Op{Kind: OpPoll, Dev: d, Ref: code})
		a := e.Answers[0]
		final := i == polls-1 || a.Status == 200 || (len(a.Errors) > 0 && a.Errors[0] != "authorization_pending")
		// a poll before the last answers what the model says: the runner polls on
		want := map[string]any{"status": a.Status, "json": map[string]any{"error": strings.Join(a.Errors, "")}}
		if final {
			want, _ = st["expect"].(map[string]any)
		}
		obs, msg := r.check(Op{Kind: OpPoll, Dev: d, Ref: code}, want)
		if msg != "" {
			return msg
		}
		if obs.Status == 200 {
			r.devPair[alias] = r.ops
		}
		r.ops++
		if final {
			break
		}
	}
	r.capture(st["capture"])
	return ""
}

// check steps the model with the answer the step expects (want: the
// step's expect; nil: 2xx), if the model allows one.
func (r *translator) check(op Op, want map[string]any) (Obs, string) {
	if !valid(r.s, op, suiteCaps) {
		panic(skip(fmt.Sprintf("step %d: %s, where the model does not predict", r.step, op.Kind)))
	}
	statuses := []int{}
	switch v := want["status"].(type) {
	case int:
		statuses = []int{v}
	case []any:
		for _, x := range v {
			statuses = append(statuses, x.(int))
		}
	}
	var errs []string
	if j, ok := want["json"].(map[string]any); ok {
		for _, k := range []string{"error", "$.error"} {
			switch v := j[k].(type) {
			case string:
				errs = []string{v}
			case map[string]any:
				if one, ok := v["one_of"].([]any); ok {
					for _, x := range one {
						errs = append(errs, fmt.Sprint(x))
					}
				}
				if eq, ok := v["equals"].(string); ok {
					errs = []string{eq}
				}
			}
		}
	}
	e := Expect(r.s, op)
	for i, a := range e.Answers {
		st := a.Status
		if st == 0 {
			st = 200
		}
		if len(statuses) == 0 && (st < 200 || st > 299) || len(statuses) > 0 && !slices.Contains(statuses, st) {
			continue
		}
		obs := Obs{Status: st}
		if len(a.Errors) > 0 {
			obs.Error = a.Errors[0]
		}
		if len(errs) > 0 {
			k := slices.IndexFunc(a.Errors, func(x string) bool { return slices.Contains(errs, x) })
			if k < 0 {
				continue
			}
			obs.Error = a.Errors[k]
		}
		e.Apply(r.s, i, r.ops)
		return obs, ""
	}
	return Obs{}, fmt.Sprintf("%s: the model allows %s, the scenario expects status %v error %v", describeOp(op, suiteUsers), e, statuses, errs)
}

// capture records which operation made a captured token or code.
func (r *translator) capture(c any) {
	m, _ := c.(map[string]any)
	for v, p := range m {
		path := strings.TrimPrefix(fmt.Sprint(p), "$.")
		switch path {
		case "token.access_token", "token.refresh_token", "access_token", "refresh_token", "device_code":
			r.vars[v] = r.ops - 1
		}
	}
}

// lifetime reads an advance relative to a lifetime ("access_token_ttl +
// 1s", "refresh_token_ttl / 2") as the runner does, on the model's
// lifetimes.
func (r *translator) lifetime(expr string) time.Duration {
	f := strings.Fields(expr)
	if len(f) == 0 {
		panic(skip("advance"))
	}
	base, ok := map[string]time.Duration{"access_token_ttl": r.s.AccessTTL, "refresh_token_ttl": r.s.RefreshTTL,
		"device_code_ttl": r.s.CodeTTL, "refresh_grace": r.s.Grace}[f[0]]
	if !ok {
		panic(skip("advance " + expr))
	}
	f = f[1:]
	if len(f) >= 2 && f[0] == "/" {
		var n int
		if _, err := fmt.Sscan(f[1], &n); err != nil || n < 1 {
			panic(skip("advance " + expr))
		}
		base, f = base/time.Duration(n), f[2:]
	}
	if len(f) == 2 {
		d, err := time.ParseDuration(f[1])
		if err != nil {
			panic(skip("advance " + expr))
		}
		if f[0] == "-" {
			d = -d
		}
		base += d
	}
	return base
}

// userVar resolves what the runner knows of a demo user: ${bob.userid},
// ${bob.email}, ${alice.card}, ${alice.short_id}; other text stays.
func userVar(v string) string {
	name, ok := strings.CutPrefix(v, "${")
	name, ok2 := strings.CutSuffix(name, "}")
	if !ok || !ok2 {
		return v
	}
	user, field, _ := strings.Cut(name, ".")
	u := slices.Index(users, user)
	if u < 0 {
		panic(skip("the variable " + name))
	}
	i := slices.Index([]string{"userid", "card", "short_id", "", "email"}, field)
	if i < 0 || field == "" {
		panic(skip("the variable " + name))
	}
	return demoAccounts()[u].ids[i]
}

// password is the password of model user u.
func (r *translator) password(u int) string {
	if u < len(demoPasswords) {
		return demoPasswords[u]
	}
	return r.passwords[u]
}

// function is the call of a function by method and path.
func (r *translator) function(method, path string, m map[string]any) Op {
	if method == "" {
		method = "GET"
	}
	op := Op{Kind: OpCall, User: -1}
	form, _ := m["form"].(map[string]any)
	switch {
	case method == "GET" && path == "/version":
		op.Fn = FnVersion
	case method == "GET" && path == "/account":
		op.Fn = FnAccount
	case method == "GET" && (path == "/users/all" || path == "/users"):
		op.Fn = FnUsersList
	case method == "PUT" && path == "/users":
		op.Fn = FnUserCreate
		name := userVar(fmt.Sprint(form["username"]))
		op.Arg = int8(slices.Index(suiteUsers, name))
		if op.Arg < 0 {
			panic(skip("create user " + name))
		}
		data := userVar(fmt.Sprint(form["detaildata"]))
		switch form["detailtype"] {
		case nil, "0": // full name
		case "3":
			if r.passwords == nil {
				r.passwords = map[int]string{}
			}
			r.passwords[int(op.Arg)] = data
		case "1", "4", "5": // email, card ID, short ID: whose is it?
			field := map[any]int{"1": 4, "4": 1, "5": 2}[form["detailtype"]]
			op.User = slices.IndexFunc(demoAccounts(), func(a account) bool { return a.ids[field] == data })
		default:
			panic(skip(fmt.Sprintf("create user detailtype %v", form["detailtype"])))
		}
	case method == "DELETE" && strings.HasPrefix(path, "/users/"):
		op.Fn = FnUserDelete
		name := userVar(strings.TrimPrefix(path, "/users/"))
		op.Arg = int8(slices.Index(suiteUsers, name))
		if op.Arg < 0 {
			panic(skip("delete user " + name))
		}
	case method == "PUT" && path == "/documents":
		op.Fn = FnDocSubmit
	case method == "GET" && path == "/documents/history":
		op.Fn = FnDocHistory
	default:
		panic(skip("call " + method + " " + path))
	}
	return op
}

// history says whether a history call's maxrecords is outside 1 to 1000.
func (r *translator) history(op Op, m map[string]any) uint8 {
	q, _ := m["query"].(map[string]any)
	if op.Fn != FnDocHistory || q["maxrecords"] == nil {
		return BadNone
	}
	n, err := strconv.Atoi(fmt.Sprint(q["maxrecords"]))
	if err != nil || n < 1 || n > 1000 {
		return BadRequest
	}
	return BadNone
}

// http turns a raw request to a known endpoint into operations: a form
// body that is malformed (not form-encoded, undecodable, a field twice) at
// the OAuth service, HEAD /api/v1/account without a key, a call whose
// Authorization is not one Bearer token; the admin API's device list is
// checked against the model's device standing.
func (r *translator) http(m map[string]any, expect any) ([]Op, string) {
	method, u := str(m, "method"), str(m, "url")
	headers, _ := m["headers"].(map[string]any)
	body := str(m, "body")
	switch {
	case method == "POST" && (u == "/oauth/v1/token" || u == "/oauth/v1/register"):
		vals, err := url.ParseQuery(body)
		dup := false
		for _, v := range vals {
			dup = dup || len(v) > 1
		}
		if headers["Content-Type"] == "application/x-www-form-urlencoded" && err == nil && !dup {
			panic(skip("a well-formed http request to " + u))
		}
		if u == "/oauth/v1/register" {
			return []Op{{Kind: OpRegister, Dev: r.device(fmt.Sprintf("http %d", r.step), false), Bad: BadRequest}}, ""
		}
		return []Op{{Kind: OpPoll, Dev: -1, Ref: r.unknownCode(), Bad: BadRequest}}, ""
	case method == "HEAD" && u == "/api/v1/account" && len(headers) == 0:
		return []Op{{Kind: OpCall, Fn: FnAccountHead, Ref: -1, Bad: BadKeyMissing}}, ""
	case method == "GET" && u == "/api/v1/version" && headers["X-Api-Key"] == "${api_key}" && !strings.HasPrefix(fmt.Sprint(headers["Authorization"]), "Bearer "):
		return []Op{{Kind: OpCall, Fn: FnVersion, Ref: r.unknownToken(false)}}, ""
	case method == "GET" && u == "/healthz":
		if want, _ := expect.(map[string]any); want["status"] != 200 {
			return nil, fmt.Sprintf("GET /healthz answers 200 while serving (section 7.3), the scenario expects %v", want["status"])
		}
		return nil, ""
	case method == "POST" && u == "/admin/api/reset":
		panic(skip(notProtocol + "POST /admin/api/reset puts the server back to its start (section 7.3): a fresh model state, not a step of the one it replaces"))
	case method == "GET" && u == "/admin/api/devices" && len(r.devs) == 1:
		want, _ := expect.(map[string]any)
		j, _ := want["json"].(map[string]any)
		for _, d := range r.devs {
			if got := r.s.Devices[d].Status.String(); j["$.items[0].status"] != got {
				return nil, fmt.Sprintf("the admin API's device list: the model has the device %s, the scenario expects %v", got, j["$.items[0].status"])
			}
		}
		return nil, ""
	}
	panic(skip("a http step " + method + " " + u))
}
