package scenarios

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/paragon-cli/paragon/server"
)

// This file runs scenarios against a declared target: a server without our
// admin API whose configuration a target file declares. A scenario's given
// becomes a requirement on the declaration, approve steps use its approval
// method and advance steps wait for real.

// lifetimeNames are the account lifetimes, as given.settings, target files
// and advance expressions name them.
var lifetimeNames = []string{"access_token_ttl", "refresh_token_ttl", "device_code_ttl", "refresh_grace"}

// lifetimes maps lifetime names to durations; a name that is missing is not
// known (a target file that does not declare it).
type lifetimes map[string]time.Duration

func (sp *SettingsPatch) fields() map[string]*Duration {
	return map[string]*Duration{"access_token_ttl": sp.AccessTokenTTL, "refresh_token_ttl": sp.RefreshTokenTTL,
		"device_code_ttl": sp.DeviceCodeTTL, "refresh_grace": sp.RefreshGrace}
}

// referenceLifetimes are the reference server's lifetimes at reset.
func referenceLifetimes() lifetimes {
	s := server.DefaultSettings()
	return lifetimes{"access_token_ttl": s.AccessTokenTTL, "refresh_token_ttl": s.RefreshTokenTTL,
		"device_code_ttl": s.DeviceCodeTTL, "refresh_grace": s.RefreshGrace}
}

// apply sets the fields a patch sets.
func (l lifetimes) apply(sp *SettingsPatch) {
	if sp == nil {
		return
	}
	for n, d := range sp.fields() {
		if d != nil {
			l[n] = durationOf(*d)
		}
	}
}

// keySwitches are the switches of an API key that a target file declares.
type keySwitches struct{ allowUnauthenticated, allowUntrusted, autoTrust bool }

// apply sets the switches a patch sets.
func (k *keySwitches) apply(p *KeyPatch) {
	if p == nil {
		return
	}
	for _, f := range []struct {
		dst *bool
		src *bool
	}{{&k.allowUnauthenticated, p.AllowUnauthenticated}, {&k.allowUntrusted, p.AllowUntrusted}, {&k.autoTrust, p.AutoTrust}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
}

// mismatch says which switch of p a key with these switches lacks
// ("key switch allow_untrusted: true") and what the key has ("false"), or
// "" when it has them all. A switch p leaves unset is as on a fresh key:
// off; except auto_trust, which only decides whether a device waits for
// approval, and approve steps wait as the target file says.
func (k keySwitches) mismatch(p *KeyPatch) (want, have string) {
	if p == nil {
		p = &KeyPatch{}
	}
	for _, f := range []struct {
		name string
		have bool
		want *bool
		def  *bool
	}{{"allow_unauthenticated", k.allowUnauthenticated, p.AllowUnauthenticated, new(false)},
		{"allow_untrusted", k.allowUntrusted, p.AllowUntrusted, new(false)},
		{"auto_trust", k.autoTrust, p.AutoTrust, nil}} {
		w := f.want
		if w == nil {
			w = f.def
		}
		if w != nil && *w != f.have {
			return fmt.Sprintf("key switch %s: %t", f.name, *w), fmt.Sprint(f.have)
		}
	}
	return "", ""
}

// keyMismatch says what of p a declared key lacks ("key switch
// allow_untrusted: true") and what it has ("false"), or "". Fields p leaves
// unset must be unrestricted (active, no expiry, IP ranges or permissions).
func keyMismatch(k DeclaredKey, p *KeyPatch) (want, have string) {
	if want, have := switchesOf(k).mismatch(p); want != "" {
		return want, have
	}
	if p == nil {
		p = &KeyPatch{}
	}
	active := k.Active == nil || *k.Active
	wantActive := p.Active == nil || *p.Active
	if active != wantActive {
		return fmt.Sprintf("key field active: %t", wantActive), fmt.Sprint(active)
	}
	if w := deref(p.ExpiresAt, ""); w != k.ExpiresAt {
		return fmt.Sprintf("key field expires_at: %q", w), fmt.Sprintf("%q", k.ExpiresAt)
	}
	for _, f := range []struct {
		name       string
		have, want []string
	}{{"allowed_ips", k.AllowedIPs, derefList(p.AllowedIPs)}, {"permissions", k.Permissions, derefList(p.Permissions)}} {
		if !slices.Equal(f.have, f.want) && len(f.have)+len(f.want) > 0 {
			return fmt.Sprintf("key field %s: [%s]", f.name, strings.Join(f.want, ", ")), "[" + strings.Join(f.have, ", ") + "]"
		}
	}
	return "", ""
}

func derefList(p *[]string) []string {
	if p == nil {
		return nil
	}
	return *p
}

func switchesOf(k DeclaredKey) keySwitches {
	return keySwitches{k.AllowUnauthenticated, k.AllowUntrusted, k.AutoTrust}
}

// scenarioPlan is how one scenario runs on its target: the keys it uses,
// their switches, the lifetimes its waits are relative to and how long it
// waits for real.
type scenarioPlan struct {
	apiKey, secondKey string
	switches          map[string]keySwitches // KeyDefault, KeySecond
	lifetimes         lifetimes
	realWait          time.Duration
}

// declaredMode reports whether the target is checked against a declaration
// rather than configured through an admin API.
func (t *target) declaredMode() bool { return t.decl != nil && !t.caps[NeedAdmin] }

// plan decides how sc runs on t, or why it is skipped.
func (t *target) plan(sc *Scenario) (*scenarioPlan, string) {
	p := &scenarioPlan{apiKey: t.apiKey, secondKey: t.secondKey, lifetimes: referenceLifetimes(),
		switches: map[string]keySwitches{KeyDefault: {}, KeySecond: {}}}
	if !t.declaredMode() {
		for _, need := range sc.Needs {
			if !t.caps[need] {
				return nil, fmt.Sprintf("needs %s: %s", need, t.missing[need])
			}
		}
		if sc.Given != nil {
			for name, kp := range sc.Given.Keys {
				s := p.switches[name]
				s.apply(kp)
				p.switches[name] = s
			}
			p.lifetimes.apply(sc.Given.Settings)
		}
		return p, ""
	}
	decl := t.decl
	for _, need := range sc.Needs {
		if need == NeedDeviceKey && !t.caps[need] {
			return nil, fmt.Sprintf("needs %s: %s declares device_keys: []", need, decl.File)
		}
	}
	// first what no declaration can satisfy: steps that change the server
	for i, st := range sc.Steps {
		switch a := st.Action.(type) {
		case *deviceAdminAction:
			if a.op != "approve" {
				return nil, fmt.Sprintf("needs admin: step %d (%s) changes the server through its admin API", i+1, a.op)
			}
		case *advanceAction:
		default:
			if slices.Contains(st.Action.needs(), NeedAdmin) {
				return nil, fmt.Sprintf("needs admin: step %d (%s) changes the server through its admin API", i+1, st.Kind)
			}
		}
	}
	var given map[string]*KeyPatch
	if sc.Given != nil {
		given = sc.Given.Keys
	}
	for _, name := range sortedKeys(given) {
		if name != KeyDefault && name != KeySecond {
			return nil, fmt.Sprintf("needs its key %q set up through the admin API (a target file declares keys for default and second only)", name)
		}
	}
	// the default key, then another key for second
	pick := func(name string, not string) (string, keySwitches, bool) {
		order := sortedKeys(decl.Keys)
		slices.SortStableFunc(order, func(a, b string) int {
			switch {
			case a == name && b != name:
				return -1
			case b == name && a != name:
				return 1
			}
			return 0
		})
		for _, n := range order {
			k := decl.Keys[n]
			if n == not || k.Value == "" {
				continue
			}
			if want, _ := keyMismatch(k, given[name]); want == "" {
				return n, switchesOf(k), true
			}
		}
		return "", keySwitches{}, false
	}
	dn, dsw, ok := pick(KeyDefault, "")
	if !ok {
		want, have := keyMismatch(decl.Keys[KeyDefault], given[KeyDefault])
		return nil, fmt.Sprintf("needs %s; %s declares %s for its default key (declare a key with it to run this scenario)", want, decl.File, have)
	}
	p.apiKey, p.switches[KeyDefault] = decl.Keys[dn].Value, dsw
	p.secondKey = ""
	if slices.Contains(sc.Needs, NeedSecondKey) || given[KeySecond] != nil {
		sn, ssw, ok := pick(KeySecond, dn)
		if !ok {
			if len(decl.Keys) < 2 {
				return nil, fmt.Sprintf("needs a second API key of the account; %s declares one key (add keys: {second: {value: \"${SECOND_KEY}\"}})", decl.File)
			}
			want, _ := keyMismatch(DeclaredKey{}, given[KeySecond])
			return nil, fmt.Sprintf("needs a second key of the account (%s); %s declares none", strings.TrimPrefix(want+"; ", "; "), decl.File)
		}
		p.secondKey, p.switches[KeySecond] = decl.Keys[sn].Value, ssw
	}
	p.lifetimes = lifetimes{}
	for n, d := range decl.Lifetimes.fields() {
		if d != nil {
			p.lifetimes[n] = durationOf(*d)
		}
	}
	if sc.Given != nil && sc.Given.Settings != nil {
		for _, n := range lifetimeNames {
			want := sc.Given.Settings.fields()[n]
			if want == nil {
				continue
			}
			have, ok := p.lifetimes[n]
			switch {
			case !ok:
				return nil, fmt.Sprintf("needs %s: %s; %s declares none (add lifetimes: {%s: ...})", n, durationOf(*want), decl.File, n)
			case have != durationOf(*want):
				return nil, fmt.Sprintf("needs %s: %s; %s declares %s", n, durationOf(*want), decl.File, have)
			}
		}
	}
	for _, st := range sc.Steps {
		switch a := st.Action.(type) {
		case *advanceAction:
			d, err := a.duration(p.lifetimes)
			if err != nil {
				return nil, fmt.Sprintf("needs %s (for an advance step); %s declares none", a.Lifetime, decl.File)
			}
			if d > decl.MaxWait {
				return nil, fmt.Sprintf("needs a real wait of %s (no fake clock), longer than max_wait %s", d, decl.MaxWait)
			}
			p.realWait += d
		case *registerAction:
			if a.Key != "" && a.Key != "keep" && a.Key != "none" && decl.DeviceKeys != nil && !slices.Contains(decl.DeviceKeys, a.Key) {
				return nil, fmt.Sprintf("needs device key type %s; %s declares device_keys: [%s]", a.Key, decl.File, strings.Join(decl.DeviceKeys, ", "))
			}
		case *loginAction:
			if _, ok := decl.Users[a.User]; a.User != "" && !ok {
				return nil, fmt.Sprintf("needs user %s; %s declares none (add users: {%s: {userid: ..., password: \"${...}\"}})", a.User, decl.File, a.User)
			}
		}
	}
	return p, ""
}

// awaitTrust makes a device trusted without the admin API, as the target
// file says: the approval command runs, or a person is asked; the next
// device_token step then polls until the server trusts it.
func (r *scenarioRun) awaitTrust(ctx context.Context, dev *deviceState) error {
	decl := r.t.decl
	switch decl.Approval {
	case ApprovalCommand:
		if out, err := decl.RunApprovalCommand(ctx, dev.clientID); err != nil {
			return fmt.Errorf("approval_command %s %s: %v: %s", decl.ApprovalCommand, dev.clientID, err, strings.TrimSpace(r.mask.Scrub(string(out))))
		}
	case ApprovalPrompt:
		if r.t.prompt == nil {
			return fmt.Errorf("approval: prompt needs a terminal; use approval: wait or command")
		}
		r.t.prompt(dev.clientID, dev.description)
	}
	dev.awaitTrust = true
	return nil
}

// RunApprovalCommand runs the file's approval_command with the device id
// as $1, for at most MaxWait, and returns what it printed.
func (decl *Declared) RunApprovalCommand(ctx context.Context, clientID string) ([]byte, error) {
	cctx, cancel := context.WithTimeout(ctx, decl.MaxWait)
	defer cancel()
	return exec.CommandContext(cctx, decl.ApprovalCommand, clientID).CombinedOutput()
}

// pollTrust asks for a pending device's token until the server trusts it
// (honouring slow_down) or the target's max_wait passes.
func (r *scenarioRun) pollTrust(ctx context.Context, send func() (*exchange, error), dev *deviceState) (*exchange, error) {
	deadline := time.Now().Add(r.t.decl.MaxWait)
	interval := 5 * time.Second
	for {
		ex, err := send()
		if err != nil {
			return nil, err
		}
		code, _ := ex.jsonString("error")
		switch {
		case ex.status == http.StatusOK:
			dev.awaitTrust = false
			return ex, nil
		case code == "slow_down":
			interval += 5 * time.Second
		case code != "authorization_pending":
			dev.awaitTrust = false
			return ex, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return ex, fmt.Errorf("device %s is still pending after max_wait %s: approve it on the server (%s) or raise max_wait in %s", dev.clientID, r.t.decl.MaxWait, dev.description, r.t.decl.File)
		}
		if err := sleep(ctx, min(interval, left)); err != nil {
			return nil, err
		}
	}
}

// sleep waits d for real, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// user returns the login data of a scenario's user: the declared account
// on a declared target, else the demo user; and the user id to send for a
// password login.
func (r *scenarioRun) user(name string) (demoUser, string) {
	if r.t.decl != nil {
		if u, ok := r.t.decl.Users[name]; ok {
			return demoUser{password: u.Password, card: u.Card, shortID: u.ShortID, email: u.Email}, u.UserID
		}
	}
	return demoUsers[name], name
}

// loginNeedsDevice reports whether a login with the key (nil: the run's)
// must present a device token: the key does not allow untrusted logins.
func (r *scenarioRun) loginNeedsDevice(apiKey *string) bool {
	name := KeyDefault
	if apiKey != nil {
		switch *apiKey {
		case r.t.apiKey:
		case r.t.secondKey:
			name = KeySecond
		default:
			return false // not a key of the account: the login is refused anyway
		}
	}
	return !r.plan.switches[name].allowUntrusted
}

// loginDevice returns the device token a login presents when its key needs
// one: a device of the scenario's own (one per key), registered, trusted
// (approved through the admin API, or as the target file says) and
// exchanged the first time, as a real client would.
func (r *scenarioRun) loginDevice(ctx context.Context, apiKey *string) (string, error) {
	name := "login device"
	if apiKey != nil {
		name += " " + randomHexOf(*apiKey)
	}
	if d, ok := r.devices[name]; ok && d.refreshToken != "" {
		// time may have passed (an advance step): renew its device token
		// as a client would, or register a new device if that fails
		ex, err := (&refreshAction{Device: name, APIKey: apiKey}).run(ctx, r)
		if err == nil && ex.status == http.StatusOK {
			return d.accessToken, nil
		}
		delete(r.devices, name)
	}
	fail := func(what string, ex *exchange, err error) (string, error) {
		if err != nil {
			return "", fmt.Errorf("the key needs a device token to log in: %s: %v", what, err)
		}
		code, _ := ex.jsonString("error")
		return "", fmt.Errorf("the key needs a device token to log in: %s answered %d %s", what, ex.status, code)
	}
	ex, err := (&registerAction{Device: name, APIKey: apiKey}).run(ctx, r)
	if err != nil || ex.status != http.StatusOK {
		return fail("registering a device", ex, err)
	}
	ex, err = (&deviceAdminAction{op: "approve", Device: name}).run(ctx, r)
	if err != nil || ex.status/100 != 2 {
		return fail("approving it", ex, err)
	}
	ex, err = (&deviceTokenAction{Device: name, APIKey: apiKey}).run(ctx, r)
	if err != nil || ex.status != http.StatusOK {
		return fail("its device token", ex, err)
	}
	return r.devices[name].accessToken, nil
}

// randomHexOf names a key in an alias without holding the key.
func randomHexOf(s string) string {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return fmt.Sprintf("%08x", h)
}

// track notes what a call created on an outside server that its reset
// will not remove: users (PUT /users) and documents (PUT /documents); a
// user deleted by the scenario is no longer noted.
func (r *scenarioRun) track(method, path, username, as string) {
	if r.t.embedded || r.t.caps[NeedAdmin] {
		return
	}
	switch {
	case method == http.MethodPut && path == "/api/v1/users" && username != "":
		r.created = append(r.created, [2]string{username, as})
	case method == http.MethodDelete && strings.HasPrefix(path, "/api/v1/users/"):
		name := strings.TrimPrefix(path, "/api/v1/users/")
		r.created = slices.DeleteFunc(r.created, func(c [2]string) bool { return c[0] == name })
	case method == http.MethodPut && path == "/api/v1/documents":
		r.documents = append(r.documents, as)
	}
}

// cleanUp deletes the users the scenario created on an outside server
// without an admin API (also after a failure or Ctrl-C), with the session
// that created them, and returns what is left: users it could not delete
// and documents of users that stay (the API cannot delete a document).
func (r *scenarioRun) cleanUp(ctx context.Context) []string {
	if r.keepCreated || (len(r.created) == 0 && len(r.documents) == 0) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var left []string
	deleted := map[string]bool{}
	created := slices.Clone(r.created) // deleting one untracks it
	for i := len(created) - 1; i >= 0; i-- {
		name, as := created[i][0], created[i][1]
		del := func() (*exchange, error) {
			return (&callAction{Method: http.MethodDelete, Path: "/users/" + url.PathEscape(name), As: as}).run(ctx, r)
		}
		ex, err := del()
		if err == nil && ex.status == http.StatusUnauthorized && as != "" {
			// the session's token expired meanwhile: renew it and try again
			if rex, rerr := (&refreshAction{User: as}).run(ctx, r); rerr == nil && rex.status == http.StatusOK {
				ex, err = del()
			}
		}
		switch {
		case err != nil:
			left = append(left, fmt.Sprintf("user %s: deleting it failed: %v", name, err))
		case ex.status/100 != 2 && ex.status != http.StatusNotFound:
			left = append(left, fmt.Sprintf("user %s: DELETE /api/v1/users/%s answered %d", name, name, ex.status))
		default:
			deleted[name] = true
		}
	}
	docs := map[string]int{}
	for _, as := range r.documents {
		userid := as
		if _, id := r.user(as); id != "" {
			userid = id
		}
		if !deleted[userid] {
			docs[userid]++
		}
	}
	for _, u := range sortedKeys(docs) {
		left = append(left, fmt.Sprintf("%d document(s) of %s: the API cannot delete documents", docs[u], u))
	}
	return left
}
