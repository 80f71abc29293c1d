package explore

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/paragon-cli/paragon/scenarios"
)

// A declared target (a target file, docs/real-servers.md) is a server the
// explorer cannot configure: no admin API, so no reset, no refusing,
// forgetting or revoking, no lifetimes or key switches to change, no fake
// clock. The walks start from what the file declares (its lifetimes, its
// default key's switches, its users) and send only what a client may:
// register, poll, log in, refresh, call; devices are approved only by the
// file's approval_command (or trusted by a key with automatic trust).
//
// Real waits are never made. Instead a walk ends, in real time, well before
// the shortest declared lifetime (and the grace) could end for any token of
// its own, so the model's clock stands still during a walk and no answer
// depends on how long the walk took. Nothing is reset between walks: every
// walk, and every replay while shrinking, registers devices of its own (new
// client ids and keys) and logs in anew, so it never presents a token or
// device code of an earlier one. The users are shared, which the contract
// allows: a user's families are independent of each other, and a user's
// oldest families end only beyond 1,000 live ones (contract section 7.4),
// far more than one walk makes.

// CheckDeclared says what keeps a target file from being explored: the
// lifetimes the model needs, an active and unrestricted default key, a
// user to log in as. The message says what to add.
func CheckDeclared(decl *scenarios.Declared) error {
	_, _, err := fixedOf(decl)
	return err
}

// fixedOf is the start of every walk on a declared target, and how long a
// walk may last.
func fixedOf(decl *scenarios.Declared) (*Fixed, time.Duration, error) {
	lt := decl.Lifetimes
	var missing []string
	get := func(name string, d *scenarios.Duration) time.Duration {
		if d == nil {
			missing = append(missing, name)
			return 0
		}
		return time.Duration(*d)
	}
	f := &Fixed{AccessTTL: get("access_token_ttl", lt.AccessTokenTTL), RefreshTTL: get("refresh_token_ttl", lt.RefreshTokenTTL),
		CodeTTL: get("device_code_ttl", lt.DeviceCodeTTL), Grace: get("refresh_grace", lt.RefreshGrace), File: decl.File}
	if len(missing) > 0 {
		return nil, 0, fmt.Errorf("%s declares no %s: explore predicts expiry and the refresh grace from the lifetimes; add lifetimes: {%s: ...}",
			decl.File, strings.Join(missing, ", "), strings.Join(missing, ": ..., "))
	}
	def := decl.Keys[scenarios.KeyDefault]
	if !def.Usable() {
		return nil, 0, fmt.Errorf("%s: keys.default is inactive, expires or is restricted (expires_at, allowed_ips, permissions): explore needs an active, unrestricted default key", decl.File)
	}
	if len(declaredAccounts(decl)) == 0 {
		return nil, 0, fmt.Errorf("%s declares no users: explore logs in as them; add users: {alice: {userid: ..., password: \"${...}\"}}", decl.File)
	}
	f.Unauth, f.Untrusted, f.AutoTrust = def.AllowUnauthenticated, def.AllowUntrusted, def.AutoTrust
	shortest := min(f.AccessTTL, f.RefreshTTL, f.CodeTTL)
	if f.Grace > 0 {
		shortest = min(shortest, f.Grace)
	}
	walk := shortest - max(shortest/10, time.Second)
	if walk < 2*time.Second {
		return nil, 0, fmt.Errorf("%s declares a lifetime of %s: explore needs every lifetime (and a refresh_grace other than 0s) of at least 3s, so that a walk ends before any of its tokens could expire", decl.File, shortest)
	}
	return f, walk, nil
}

// declaredCaps is what a declared target allows.
func declaredCaps(decl *scenarios.Declared, accounts []account, secondKey bool) caps {
	return caps{secondKey: secondKey, approve: decl.Approval == scenarios.ApprovalCommand,
		keyed: decl.DeviceKeys == nil || slices.Contains(decl.DeviceKeys, "ed25519"), accounts: accounts, devices: walkDevices}
}

// newWalk starts a walk: on the reference server with a random grace, on a
// declared target as it declares.
func (x *explorer) newWalk(rng *rand.Rand) Walk {
	if x.fixed != nil {
		return Walk{Grace: x.fixed.Grace, Fixed: x.fixed, Users: x.names}
	}
	return Walk{Grace: graceFor(rng)}
}

// inTime reports whether a walk that began at began may go on: on a
// declared target, only while no lifetime can have ended.
func (x *explorer) inTime(began time.Time) bool {
	return x.walkTime <= 0 || time.Since(began) < x.walkTime
}

// impossible says which operations c does not allow, and what the walks
// cannot reach because of it.
func impossible(c caps, decl *scenarios.Declared, f *Fixed, walkTime time.Duration) []string {
	var out []string
	if decl == nil {
		if !c.clock {
			out = append(out, "advance: the server has no fake clock (start it with --fake-clock): expiry is not explored")
		}
		if !c.secondKey {
			out = append(out, "the second key: none given (--second-api-key): key binding is not checked")
		}
		return out
	}
	file := decl.File
	switch {
	case c.approve:
	case f.AutoTrust:
		out = append(out, fmt.Sprintf("approve: no admin API and no approval_command in %s (not needed: the default key trusts devices automatically)", file))
	default:
		out = append(out, fmt.Sprintf("approve: no admin API, and %s gives approval: %s, not command: devices stay pending, so no device token and no login that needs one", file, decl.Approval))
	}
	out = append(out,
		"refuse, forget, revoke-user, revoke-device: no admin API",
		fmt.Sprintf("grace, switch, key: no admin API: the lifetimes and the default key's switches stay as %s declares them", file),
		fmt.Sprintf("advance: no fake clock, and real waits are never made: no token or device code expires; each walk ends within %s, before the shortest lifetime", walkTime.Round(100*time.Millisecond)))
	if f.Grace > 0 {
		out = append(out, fmt.Sprintf("refresh reuse after the grace: refresh_grace %s outlasts a walk, so a spent token is always reused within it", f.Grace))
	}
	if !c.secondKey {
		out = append(out, fmt.Sprintf("the second key: %s declares no other key that is active, unrestricted and has both switches off: key binding is not checked", file))
	}
	if !c.keyed {
		out = append(out, fmt.Sprintf("devices with a key (d0, d2): %s's device_keys leaves out ed25519", file))
	}
	for auth, name := range authNames {
		var lack []string
		for _, a := range c.accounts {
			if a.ids[auth] == "" {
				lack = append(lack, a.name)
			}
		}
		if len(lack) > 0 {
			field := [...]string{"password", "card", "short_id", "userid", "email"}[auth]
			out = append(out, fmt.Sprintf("login (%s) as %s: %s declares no %s", name, strings.Join(lack, ", "), file, field))
		}
	}
	return out
}
