package explore

import (
	"math/rand/v2"
	"time"
)

// caps is what the target allows the explorer to do.
type caps struct {
	clock     bool // a fake clock to move
	secondKey bool // a second API key, for key binding
	admin     bool // the admin API: refuse, forget, revoke, lifetimes, key fields
	approve   bool // devices can be approved: the admin API or an approval command
	keyed     bool // devices may register Ed25519 keys
	accounts  []account
	devices   int // how many of the model's devices may be used
}

// adminCaps are the capabilities of a reference server with its admin API.
func adminCaps(clock, secondKey bool) caps {
	return caps{clock: clock, secondKey: secondKey, admin: true, approve: true, keyed: true, accounts: demoAccounts(), devices: walkDevices}
}

// valid reports whether op is one the explorer may send in s: the
// operations whose answer the contract decides, or leaves open in a way the
// model knows. The generator makes only valid operations, and the shrinker
// drops candidates that are not.
func valid(s *State, op Op, c caps) bool {
	isPair := func(r int) bool { return r >= 0 && r < len(s.Recs) && s.Recs[r].Kind == recPair }
	if op.Key == 1 && !c.secondKey {
		return false
	}
	if op.Dev >= c.devices || op.User >= len(c.accounts) {
		return false
	}
	switch op.Bad {
	case BadSigMissing, BadSigWrong:
		// a keyed device the server knows, on a request it signs
		if op.Dev < 0 || !s.Devices[op.Dev].Keyed {
			return false
		}
		if st := s.Devices[op.Dev].Status; op.Kind != OpRegister && st != DevPending && st != DevTrusted && st != DevRefused {
			return false
		}
	}
	switch op.Kind {
	case OpRegister, OpPoll, OpApprove, OpRefuse, OpForget, OpRevokeDevice, OpRefresh:
		if !c.keyed && op.Dev >= 0 && keyedDevice(op.Dev) {
			return false // devices with a key: the target takes no Ed25519 keys
		}
	}
	switch op.Kind {
	case OpRefuse, OpForget, OpRevokeDevice, OpRevokeUser, OpGrace, OpSwitch, OpKeyField:
		if !c.admin {
			return false
		}
	}
	switch op.Kind {
	case OpRegister:
		st := s.Devices[op.Dev].Status
		switch {
		case st == DevUnknown || st == DevForgotten:
			return !op.Unsigned
		case s.Devices[op.Dev].Keyed && op.Unsigned:
			return true
		case s.Devices[op.Dev].Keyed:
			return st == DevTrusted
		default:
			return st == DevPending || st == DevTrusted
		}
	case OpPoll:
		return op.Ref >= 0 && op.Ref < len(s.Recs) && s.Recs[op.Ref].Kind == recCode && (op.Bad == BadRequest || (op.Dev >= 0 && s.Devices[op.Dev].Status != DevUnknown))
	case OpApprove:
		return c.approve && s.Devices[op.Dev].Status == DevPending
	case OpRefuse:
		st := s.Devices[op.Dev].Status
		return st == DevPending || st == DevTrusted
	case OpForget:
		st := s.Devices[op.Dev].Status
		return st == DevPending || st == DevTrusted || st == DevRefused
	case OpLogin:
		return c.accounts[op.User].ids[op.Auth] != "" && (op.Ref < 0 || isPair(op.Ref))
	case OpCall:
		return op.Ref < 0 || isPair(op.Ref)
	case OpRefresh:
		if !isPair(op.Ref) {
			return false
		}
		fam := s.famOf(op.Ref)
		if op.Dev < 0 || (!fam.UserFam && int(s.Recs[op.Ref].Dev) == op.Dev) {
			return true
		}
		return s.Devices[op.Dev].Status == DevTrusted // a foreign client: a device the server knows
	case OpAdvance:
		return c.clock
	case OpRevokeDevice:
		st := s.Devices[op.Dev].Status
		return st != DevUnknown && st != DevForgotten
	}
	return true
}

// advances are the clock moves: multiples of 7 s, so that no token ever
// stands exactly at the end of its lifetime (10 min, 1 h, 30 min, the 30 s
// grace, the 5 s polling pace), where the contract does not say which side
// it falls; 35 s crosses the grace, 602 s an access token's life, 1806 s a
// device code's, 3605 s a refresh token's.
var advances = []time.Duration{7 * time.Second, 28 * time.Second, 35 * time.Second, 602 * time.Second, 1806 * time.Second, 3605 * time.Second}

type choice struct {
	w  int
	op Op
}

// gen picks the next operation for s, weighted towards the interesting ones:
// reuse of spent tokens, expiry edges, re-registration, revocation.
func gen(s *State, rng *rand.Rand, c caps) Op {
	var cs []choice
	add := func(w int, op Op) {
		if w > 0 && valid(s, op, c) {
			cs = append(cs, choice{w, op})
		}
	}
	var codes, pairs []int
	for i := range s.Recs {
		switch s.Recs[i].Kind {
		case recCode:
			codes = append(codes, i)
		case recPair:
			pairs = append(pairs, i)
		}
	}
	pick := func(list []int) int {
		if len(list) == 0 {
			return -1
		}
		// mostly recent ones, sometimes any
		if rng.IntN(3) > 0 {
			n := min(len(list), 4)
			return list[len(list)-1-rng.IntN(n)]
		}
		return list[rng.IntN(len(list))]
	}
	key := func() int {
		if c.secondKey && rng.IntN(8) == 0 {
			return 1
		}
		return 0
	}
	for d := range walkDevices {
		st := s.Devices[d].Status
		w := 3
		if st == DevUnknown {
			w = 12
		}
		add(w, Op{Kind: OpRegister, Dev: d})
		add(1, Op{Kind: OpRegister, Dev: d, Unsigned: true})
		add(12, Op{Kind: OpApprove, Dev: d})
		add(1, Op{Kind: OpRefuse, Dev: d})
		add(1, Op{Kind: OpForget, Dev: d})
		add(1, Op{Kind: OpRevokeDevice, Dev: d})
	}
	if cd := pick(codes); cd >= 0 {
		dev := int(s.Recs[cd].Dev)
		add(14, Op{Kind: OpPoll, Dev: dev, Ref: cd})
		add(1, Op{Kind: OpPoll, Dev: rng.IntN(walkDevices), Ref: cd})
	}
	if p := pick(pairs); p >= 0 {
		fam := s.famOf(p)
		dev := -1
		if !fam.UserFam {
			dev = int(s.Recs[p].Dev)
		}
		w := 10
		if s.Recs[p].RSpent {
			w = 8 // reuse
		}
		add(w, Op{Kind: OpRefresh, Ref: p, Dev: dev, Key: int(fam.Key)})
		add(1, Op{Kind: OpRefresh, Ref: p, Dev: rng.IntN(walkDevices+1) - 1, Key: key()})
		add(8, Op{Kind: OpCall, Ref: p, Key: key()})
	}
	add(1, Op{Kind: OpCall, Ref: -1})
	// logins, mostly with a device token
	var devToks []int
	for _, p := range pairs {
		if !s.famOf(p).UserFam {
			devToks = append(devToks, p)
		}
	}
	dt := pick(devToks)
	if dt < 0 || rng.IntN(6) == 0 {
		dt = pick(pairs)
	}
	auth := rng.IntN(len(authNames))
	if auth == 0 && rng.IntN(3) > 0 {
		auth = 1 + rng.IntN(len(authNames)-1) // a password login costs a bcrypt hash: fewer of them
	}
	u := rng.IntN(len(c.accounts))
	add(8, Op{Kind: OpLogin, User: u, Auth: auth, Ref: dt, Key: key()})
	add(1, Op{Kind: OpLogin, User: u, Auth: auth, Ref: -1, Key: key()})
	if c.admin {
		// requests that are wrong whatever the state, rarely: a wrong or
		// missing key, a signature missing or wrong, an unknown client_type
		// or grant_type (not on a server the explorer cannot configure,
		// which may count them against it)
		sig := [...]uint8{BadSigMissing, BadSigWrong}[rng.IntN(2)]
		apiKey := [...]uint8{BadKeyUnknown, BadKeyMissing}[rng.IntN(2)]
		if p := pick(pairs); p >= 0 {
			fam := s.famOf(p)
			add(1, Op{Kind: OpCall, Ref: p, Bad: apiKey})
			if fam.UserFam {
				add(1, Op{Kind: OpRefresh, Ref: p, Dev: -1, Key: int(fam.Key), Bad: BadKeyUnknown})
			} else {
				add(1, Op{Kind: OpRefresh, Ref: p, Dev: int(s.Recs[p].Dev), Bad: sig})
			}
		}
		add(1, Op{Kind: OpLogin, User: u, Auth: auth, Ref: dt, Bad: apiKey})
		if cd := pick(codes); cd >= 0 {
			add(1, Op{Kind: OpPoll, Dev: int(s.Recs[cd].Dev), Ref: cd, Bad: [...]uint8{sig, BadKeyUnknown, BadGrantType}[rng.IntN(3)]})
		}
		add(1, Op{Kind: OpRegister, Dev: rng.IntN(walkDevices), Bad: [...]uint8{BadRequest, BadSigWrong, BadKeyUnknown}[rng.IntN(3)]})
	}
	add(5, Op{Kind: OpAdvance, Dur: advances[rng.IntN(len(advances))]})
	add(1, Op{Kind: OpRevokeUser, User: u})
	g := 30 * time.Second
	if s.Grace > 0 {
		g = 0
	}
	add(1, Op{Kind: OpGrace, Dur: g})
	sw := rng.IntN(len(switchNames))
	cur := [...]bool{s.Untrusted, s.Unauth, s.AutoTrust}[sw]
	add(2, Op{Kind: OpSwitch, Switch: sw, Flag: !cur})
	// the key's other fields: rarely off, soon back on
	if s.KeyInactive || s.KeyIPOut || s.KeyExpired || s.KeyPerms != 0 {
		add(6, Op{Kind: OpKeyField, Switch: FieldActive, Flag: false})
		add(6, Op{Kind: OpKeyField, Switch: FieldIPs, Flag: false})
		add(6, Op{Kind: OpKeyField, Switch: FieldExpiry, Flag: false})
		add(6, Op{Kind: OpKeyField, Switch: FieldPerms, Perms: 0})
	} else {
		add(1, Op{Kind: OpKeyField, Switch: []int{FieldActive, FieldIPs, FieldExpiry}[rng.IntN(3)], Flag: true})
		add(1, Op{Kind: OpKeyField, Switch: FieldPerms, Perms: uint8(1 + rng.IntN(2))})
	}
	total := 0
	for _, ch := range cs {
		total += ch.w
	}
	n := rng.IntN(total)
	for _, ch := range cs {
		if n < ch.w {
			return ch.op
		}
		n -= ch.w
	}
	return cs[len(cs)-1].op
}
