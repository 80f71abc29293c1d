package explore

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The model is a second reading of the protocol contract (docs/protocol.md,
// which folds in the vendor's documentation and the project's decisions), written
// from the text and not from server/: devices and their device codes, token
// families with rotation, grace and reuse revocation, user tokens bound to
// their key, lifetimes and the key's switches. It is pure: Outcomes says what
// the contract allows an operation to answer in a state, and Apply gives the
// state after one of those answers.
//
// Where the contract leaves an answer open, the model allows every
// plausible one; where it leaves the effect on later answers open, it marks
// what it can no longer predict as in doubt (a family in doubt may answer
// either way, but a spent refresh token outside its grace never works).

// Users the explorer logs in as (the demo account, contract section 7.2).
var users = []string{"alice", "bob", "carol"}

// suiteUsers are the users the model knows: the demo users, then the ones
// the built-in scenarios create (the walks log in as the first three).
var suiteUsers = []string{"alice", "bob", "carol", "dinah", "erin", "mallory"}

// numUsers is how many users the model knows; adminUser is the demo
// account's administrator (carol).
const (
	numUsers  = 6
	adminUser = 2
)

// Device aliases: d0 and d2 register an Ed25519 key and sign, d1 has none.
// The walks use walkDevices of them; the model holds more, for the
// built-in scenarios that register more devices.
const (
	walkDevices = 3
	numDevices  = 8
)

func keyedDevice(d int) bool { return d != 1 }

// DevStatus is a device's standing with the server.
type DevStatus uint8

// Device standings.
const (
	DevUnknown   DevStatus = iota // never registered in this walk
	DevPending                    // waits for an administrator
	DevTrusted                    // approved (or trusted at once)
	DevRefused                    // refused by an administrator
	DevForgotten                  // deleted through the admin API: must register anew
)

var devStatusNames = [...]string{"unknown", "pending", "trusted", "refused", "forgotten"}

func (s DevStatus) String() string { return devStatusNames[s] }

// FamStatus is what the model knows about a token family.
type FamStatus uint8

// Family standings.
const (
	FamAlive   FamStatus = iota
	FamRevoked           // reuse, an administrator's revoke, a refused or forgotten device
	FamDoubt             // the contract does not say whether it survived (a re-registration)
)

// Rec is what one operation created, indexed by the operation's id: a device
// code (register) or a token pair (login, device-code exchange, refresh);
// the operation that starts a family also holds the family.
type Rec struct {
	Kind uint8 // recNone, recCode, recPair
	Dev  int8  // code or device family: the device
	// device code
	Issued   time.Duration
	Spent    bool
	Stale    uint8 // 0, staleSuperseded (answer open), staleForgotten (refused in some way), staleReplaced (a later registration replaced it)
	Polled   bool
	LastPoll time.Duration
	// token pair
	Fam     int // id of the operation that started the family
	AccExp  time.Duration
	RefExp  time.Duration
	Dropped bool // the access token is no longer among its family's 8 newest live ones
	// DropDoubt: whether it is still among them depends on the order the
	// server issued tokens sent at the same instant (a concurrent batch).
	DropDoubt bool
	Seq       int // order of issue (in a concurrent batch, not the id's order)
	RSpent    bool
	SpentAt   time.Duration
	SpentSeq  int // order of spending within the family
	// family (on the operation that started it)
	IsFam     bool
	UserFam   bool
	User      int8
	Key       int8 // 0 the default key, 1 the second key (user families)
	FamStatus FamStatus
	Spends    int // refresh tokens of the family spent so far
}

const (
	recNone uint8 = iota
	recCode
	recPair
)

const (
	staleSuperseded uint8 = 1
	staleReplaced   uint8 = 3
	staleForgotten  uint8 = 2
)

// Device is the model's view of one device alias.
type Device struct {
	Status DevStatus
	Keyed  bool // it registers a public key and signs its requests
}

// State is the model's state of the server.
type State struct {
	Now                                   time.Duration // fake-clock time since the walk began
	AccessTTL, RefreshTTL, CodeTTL, Grace time.Duration
	Unauth, Untrusted, AutoTrust          bool          // the default key's switches
	KeyInactive, KeyIPOut, KeyExpired     bool          // the default key is inactive; its allowed IP ranges leave the explorer out; it expired long ago
	KeyExpiry                             time.Duration // the default key expires at this clock time (0: no date)
	KeyPerms                              uint8         // the default key's permissions: 0 all, else Perm* bits
	Devices                               [numDevices]Device
	Throttle                              [numUsers]Throttle // failed password logins, by user name
	Absent                                uint8              // bit u: user u does not exist (not yet created, or deleted)
	Issued                                int                // token pairs issued so far
	Recs                                  []Rec              // by operation id
}

// startAbsent: only the demo users exist at the start.
const startAbsent uint8 = 1<<3 | 1<<4 | 1<<5

// Throttle counts a user name's failed logins (contract section 4.3):
// Fails since Start; 5 within 15 minutes block the user name until the 15
// minutes have passed.
type Throttle struct {
	Fails uint8
	Start time.Duration
}

// throttleWindow and throttleFails: 5 failures within 15 minutes.
const (
	throttleWindow = 15 * time.Minute
	throttleFails  = 5
)

// throttled reports whether logins with user u's name are refused now.
func (s *State) throttled(u int) bool {
	t := s.Throttle[u]
	return t.Fails >= throttleFails && s.Now-t.Start < throttleWindow
}

// fail counts a failed login with user u's name.
func (s *State) fail(u int) {
	t := &s.Throttle[u]
	if t.Fails == 0 || s.Now-t.Start >= throttleWindow {
		*t = Throttle{Fails: 1, Start: s.Now}
		return
	}
	t.Fails++
}

// NewState is the state after the walk's reset and settings.
func NewState(grace time.Duration) *State {
	s := &State{AccessTTL: 10 * time.Minute, RefreshTTL: time.Hour, CodeTTL: 30 * time.Minute, Grace: grace, Absent: startAbsent}
	for d := range s.Devices {
		s.Devices[d].Keyed = keyedDevice(d)
	}
	return s
}

// Clone returns an independent copy.
func (s *State) Clone() *State {
	c := *s
	c.Recs = slices.Clone(s.Recs)
	return &c
}

// OpKind is an operation of the explorer.
type OpKind uint8

// The operations.
const (
	OpRegister     OpKind = iota // Dev; Unsigned: a keyed device that does not sign
	OpPoll                       // exchange code Ref as device Dev
	OpApprove                    // Dev
	OpRefuse                     // Dev
	OpForget                     // Dev (DELETE /admin/api/devices/{id})
	OpLogin                      // User, Auth, Ref (device access token's op, -1 none), Key
	OpRefresh                    // refresh token of op Ref; Dev -1 client_id api, else that device's id; Key
	OpCall                       // GET /api/v1/version with the access token of op Ref (-1 none), Key
	OpAdvance                    // Dur
	OpRevokeUser                 // User
	OpRevokeDevice               // Dev
	OpGrace                      // Dur; Switch: the setting (SetGrace, SetAccessTTL, SetRefreshTTL, SetCodeTTL)
	OpSwitch                     // Switch = Flag
	OpKeyField                   // Switch: FieldActive (Flag: inactive), FieldIPs (Flag: leave the explorer out), FieldPerms (Perms)
	numOps
)

var opNames = [...]string{"register", "poll", "approve", "refuse", "forget", "login", "refresh", "call", "advance", "revoke-user", "revoke-device", "grace", "switch", "key"}

func (k OpKind) String() string { return opNames[k] }

// Switch names a key switch.
const (
	SwUntrusted = iota
	SwUnauth
	SwAutoTrust
)

var switchNames = [...]string{"allow_untrusted", "allow_unauthenticated", "auto_trust"}

// The settings an OpGrace sets (its Switch).
const (
	SetGrace = iota
	SetAccessTTL
	SetRefreshTTL
	SetCodeTTL
)

var settingNames = [...]string{"refresh_grace", "access_token_ttl", "refresh_token_ttl", "device_code_ttl"}

// Bad is what is wrong with a request, besides the state it meets
// (Op.Bad).
const (
	BadNone         uint8 = iota
	BadKeyUnknown         // X-Api-Key, or client_secret, is no key of the account
	BadKeyMissing         // no X-Api-Key, or no client_secret
	BadSigWrong           // a keyed device's signature does not verify
	BadSigMissing         // a keyed device's poll or refresh is not signed (a register: Unsigned)
	BadPassword           // a password login with a wrong password
	BadUserID             // a login with a userid no user has
	BadRequest            // malformed: a required field left out, an unknown authtype, client_type or key_type, client_id api at register
	BadResponseType       // register with a response_type other than device_code
	BadGrantType          // a token request with an unknown grant_type
)

// Key fields other than the switches (OpKeyField's Switch).
const (
	FieldActive = iota
	FieldIPs
	FieldPerms
	FieldExpiry // Flag: expired long ago (expires_at 2000-01-01), else Dur > 0: at that clock time, else never
)

// pastExpiry is an expires_at every clock has passed.
const pastExpiry = "2000-01-01T00:00:00Z"

// Permissions of the default key (section 2: by function name).
const (
	PermLogin     uint8 = 1
	PermVersion   uint8 = 2
	PermAccount   uint8 = 4
	PermUsers     uint8 = 8
	PermDocuments uint8 = 16
)

// outsideIPs is an allowed_ips list that leaves every real client out
// (TEST-NET-1, for documentation).
const outsideIPs = "192.0.2.0/24"

// Authtypes.
var authNames = [...]string{"password", "card", "short_id", "username", "email"}

// Op is one operation of a walk. Ref names an earlier operation by its id
// (the token or code it created).
type Op struct {
	Kind     OpKind
	Dev      int
	User     int
	Auth     int
	Ref      int
	Key      int
	Unsigned bool
	Dur      time.Duration
	Switch   int
	Flag     bool
	Batch    int   // > 0: sent at the same instant as the adjacent ops of the same batch
	Perms    uint8 // OpKeyField FieldPerms
	Bad      uint8 // what is wrong with the request (Bad*)
	Fn       uint8 // OpCall: the function (Fn*)
	Arg      int8  // OpCall FnUserCreate, FnUserDelete: the user named; User: whose email, card or short ID FnUserCreate gives too (-1 none)
}

// The functions an OpCall calls (contract section 5.2).
const (
	FnVersion     = iota // GET /api/v1/version
	FnAccount            // GET /api/v1/account
	FnUsersList          // GET /api/v1/users/all or /api/v1/users?username=
	FnUserCreate         // PUT /api/v1/users
	FnUserDelete         // DELETE /api/v1/users/{username}
	FnDocSubmit          // PUT /api/v1/documents
	FnDocHistory         // GET /api/v1/documents/history
	FnAccountHead        // HEAD /api/v1/account, which needs no key
)

// fnCalls are the functions' requests, in words.
var fnCalls = [...]string{"GET /api/v1/version", "GET /api/v1/account", "GET /api/v1/users", "PUT /api/v1/users", "DELETE /api/v1/users/{username}",
	"PUT /api/v1/documents", "GET /api/v1/documents/history", "HEAD /api/v1/account"}

// fnPerm is the permission a function needs: its name is the first path
// segment (section 2.3).
var fnPerm = [...]uint8{PermVersion, PermAccount, PermUsers, PermUsers, PermUsers, PermDocuments, PermDocuments, PermAccount}

// Refs returns the operations op refers to.
func (op Op) Refs() []int {
	switch op.Kind {
	case OpPoll, OpRefresh:
		return []int{op.Ref}
	case OpLogin, OpCall:
		if op.Ref >= 0 {
			return []int{op.Ref}
		}
	}
	return nil
}

// Obs is an observed answer.
type Obs struct {
	Status int
	Error  string // the JSON error code, if any
}

// String is "400 invalid_grant", or "200".
func (o Obs) String() string {
	if o.Error == "" {
		return fmt.Sprint(o.Status)
	}
	return fmt.Sprintf("%d %s", o.Status, o.Error)
}

// Answer is one answer the contract allows.
type Answer struct {
	Status int      // 0: any 2xx (admin API)
	Errors []string // allowed error codes (empty: not checked)
}

// Doc says what a reading of only the rules marked [doc] or [client]
// allows: a difference that still fits it only breaks an [ours] rule, and is
// a warning.
type Doc uint8

// Doc readings.
const (
	DocAny     Doc = iota // the rule is [ours]: any answer fits the vendor's text
	DocOK                 // the vendor's text says it works (2xx)
	DocRefused            // the vendor's text says it is refused (4xx)
	Doc403                // the vendor's text says 403
	Doc400                // the vendor's text says 400
)

// Expectation is what the model predicts for one operation.
type Expectation struct {
	Answers []Answer
	Rule    string // the contract rule, for reports and the scenario file
	Doc     Doc
	Note    string                   // what the answer lacks besides its status, if that is the problem
	Header  string                   // the text WWW-Authenticate must hold, if that is the problem
	effects []func(s *State, id int) // effects[i] is Answers[i]'s
}

func (e *Expectation) add(a Answer, eff func(s *State, id int)) {
	e.Answers = append(e.Answers, a)
	e.effects = append(e.effects, eff)
}

func ans(status int, errs ...string) Answer { return Answer{Status: status, Errors: errs} }

// Match returns the index of the answer obs matches, or -1.
func (e *Expectation) Match(obs Obs) int {
	for i, a := range e.Answers {
		if a.Status == 0 {
			if obs.Status >= 200 && obs.Status < 300 {
				return i
			}
			continue
		}
		if a.Status != obs.Status {
			continue
		}
		if len(a.Errors) == 0 || slices.Contains(a.Errors, obs.Error) {
			return i
		}
	}
	return -1
}

// Ours reports whether obs, which matched no answer, still fits the rules
// marked [doc]: the difference is then only a warning.
func (e *Expectation) Ours(obs Obs) bool {
	ok := obs.Status >= 200 && obs.Status < 300
	switch e.Doc {
	case DocOK:
		return ok
	case DocRefused:
		return obs.Status >= 400 && obs.Status < 500
	case Doc403:
		return obs.Status == 403
	case Doc400:
		return obs.Status == 400
	}
	return true
}

// String lists the allowed answers: "400 invalid_grant or 200".
func (e *Expectation) String() string {
	if e.Note != "" {
		return e.Note
	}
	var parts []string
	for _, a := range e.Answers {
		switch {
		case a.Status == 0:
			parts = append(parts, "2xx")
		case len(a.Errors) > 0:
			parts = append(parts, fmt.Sprintf("%d %s", a.Status, strings.Join(a.Errors, "/")))
		default:
			parts = append(parts, fmt.Sprint(a.Status))
		}
	}
	return strings.Join(parts, " or ")
}

// Apply changes s as answer i of e says, for operation id.
func (e *Expectation) Apply(s *State, i, id int) {
	for len(s.Recs) <= id {
		s.Recs = append(s.Recs, Rec{})
	}
	if e.effects[i] != nil {
		e.effects[i](s, id)
	}
}

// Step checks obs against the model: it returns the expectation, whether
// obs matched it, and (on a match) changes s. It is the model's one entry
// point: (state, input, output) → (ok, new state).
func Step(s *State, op Op, id int, obs Obs) (*Expectation, bool) {
	e := Expect(s, op)
	i := e.Match(obs)
	if i < 0 {
		return e, false
	}
	e.Apply(s, i, id)
	return e, true
}

const (
	rulePoll      = "protocol.md §3.3 device code exchange: authorization_pending until approved, then a token once; access_denied, expired_token, invalid_grant [ours, after RFC 8628]"
	ruleRegister  = "protocol.md §3.1, §3.2 register: a device code; a re-registration signed with the trusted device's key needs no approval [doc]; a keyed device must sign [ours]"
	ruleRotation  = "protocol.md §3.4 rotation: a refresh token works once, a spent one revokes its family (invalid_grant) unless within refresh_grace [ours]"
	ruleRefresh   = "protocol.md §3.4 refresh: a live refresh token gives a new token [doc]"
	ruleExpiredRT = "protocol.md §6, §3.4 a refresh token past its lifetime is refused [doc]; invalid_grant [ours]"
	ruleRevoked   = "protocol.md §3.4 a revoked family's refresh token is refused with invalid_grant [ours]"
	ruleClient    = "protocol.md §3.4 client_id api for user tokens, the device's id for device tokens; else invalid_grant [ours]"
	ruleKeyRT     = "protocol.md §2.3, §3.4 a user token is bound to its key; its refresh with another key is invalid_grant [ours]"
	ruleLogin     = "protocol.md §4.2, §4.3 login: a trusted device's token unless allow untrusted endpoints [doc] (device_token_required, untrusted_device [ours]); insecure credentials only when allowed [doc]"
	ruleCall      = "protocol.md §5.1 a function needs a live user token of the same key [doc]: 401 invalid_token [ours], 403 key_mismatch, token_required, insufficient_scope"
	ruleAdmin     = "protocol.md §7.3 admin API [ours]"
)

// famOf returns the family record of token op r.
func (s *State) famOf(r int) *Rec { return &s.Recs[s.Recs[r].Fam] }

// Expect returns what the contract allows op to answer in s.
func Expect(s *State, op Op) *Expectation {
	e := expect(s, op)
	// The reference server sweeps refused devices, and pending ones whose
	// device code expired, every minute of real time [ours]: such a device
	// may be forgotten at any moment, and the answer follows from either.
	for d := range s.Devices {
		if !s.sweepable(d) || !s.involves(op, d) {
			continue
		}
		alt := s.Clone()
		alt.sweep(d)
		ea := expect(alt, op)
		for i, a := range ea.Answers {
			eff := ea.effects[i]
			e.add(a, func(s *State, id int) {
				s.sweep(d)
				if eff != nil {
					eff(s, id)
				}
			})
		}
		e.Rule += fmt.Sprintf("; d%d may have been swept (a refused device, or a pending one whose device code expired: protocol.md §7.5) [ours]", d)
		if ea.Doc != e.Doc {
			e.Doc = DocAny
		}
	}
	return e
}

// sweepable reports whether the server may forget device d on its own: it
// is refused, or pending with an expired device code.
func (s *State) sweepable(d int) bool {
	switch s.Devices[d].Status {
	case DevRefused:
		return true
	case DevPending:
		newest := -1
		for i := range s.Recs {
			if s.Recs[i].Kind == recCode && int(s.Recs[i].Dev) == d {
				newest = i
			}
		}
		return newest >= 0 && s.Now >= s.Recs[newest].Issued+s.CodeTTL
	}
	return false
}

// sweep forgets device d as the server's sweep does.
func (s *State) sweep(d int) {
	s.Devices[d].Status = DevForgotten
	s.revokeDevice(d, true)
}

// involves reports whether op's answer depends on device d.
func (s *State) involves(op Op, d int) bool {
	devOf := func(r int) int {
		if r < 0 || r >= len(s.Recs) || (s.Recs[r].Kind == recPair && s.famOf(r).UserFam) {
			return -1
		}
		return int(s.Recs[r].Dev)
	}
	switch op.Kind {
	case OpRegister, OpApprove, OpRefuse, OpForget, OpRevokeDevice:
		return op.Dev == d
	case OpPoll, OpRefresh:
		return op.Dev == d || devOf(op.Ref) == d
	case OpLogin, OpCall:
		return op.Ref >= 0 && devOf(op.Ref) == d
	}
	return false
}

func expect(s *State, op Op) *Expectation {
	e := &Expectation{}
	switch op.Kind {
	case OpApprove, OpRefuse, OpForget, OpRevokeDevice:
		if st := s.Devices[op.Dev].Status; st == DevForgotten || st == DevUnknown {
			e.Rule, e.Doc = ruleAdmin+": an unknown device", DocAny
			e.add(ans(404), nil)
			return e
		}
	}
	switch op.Kind {
	case OpApprove:
		e.Rule, e.Doc = ruleAdmin, DocAny
		e.add(ans(0), func(s *State, _ int) { s.Devices[op.Dev].Status = DevTrusted })
	case OpRefuse:
		e.Rule, e.Doc = ruleAdmin+": refusing revokes the device's tokens", DocAny
		e.add(ans(0), func(s *State, _ int) {
			s.Devices[op.Dev].Status = DevRefused
			s.revokeDevice(op.Dev, false)
		})
	case OpForget:
		e.Rule, e.Doc = ruleAdmin+": a forgotten device's tokens stop working", DocAny
		e.add(ans(0), func(s *State, _ int) {
			s.Devices[op.Dev].Status = DevForgotten
			s.revokeDevice(op.Dev, true)
		})
	case OpRevokeUser:
		e.Rule, e.Doc = ruleAdmin+": revoke a user's tokens", DocAny
		e.add(ans(0), func(s *State, _ int) {
			for i := range s.Recs {
				if r := &s.Recs[i]; r.IsFam && r.UserFam && int(r.User) == op.User {
					r.FamStatus = FamRevoked
				}
			}
		})
	case OpRevokeDevice:
		e.Rule, e.Doc = ruleAdmin+": revoke a device's tokens", DocAny
		e.add(ans(0), func(s *State, _ int) { s.revokeDevice(op.Dev, false) })
	case OpAdvance:
		e.Rule, e.Doc = ruleAdmin+": the fake clock", DocAny
		e.add(ans(0), func(s *State, _ int) { s.Now += op.Dur })
	case OpGrace:
		e.Rule, e.Doc = ruleAdmin+": settings", DocAny
		e.add(ans(0), func(s *State, _ int) {
			*[...]*time.Duration{SetGrace: &s.Grace, SetAccessTTL: &s.AccessTTL, SetRefreshTTL: &s.RefreshTTL, SetCodeTTL: &s.CodeTTL}[op.Switch] = op.Dur
		})
	case OpSwitch, OpKeyField:
		e.Rule, e.Doc = ruleAdmin+": key switches and fields", DocAny
		e.add(ans(0), func(s *State, _ int) {
			if op.Kind == OpKeyField && op.Switch == FieldExpiry {
				s.KeyExpiry = 0
				if !op.Flag {
					s.KeyExpiry = op.Dur
				}
			}
			if f := s.keyFlag(op); f != nil {
				*f = op.Flag
			} else {
				s.KeyPerms = op.Perms
			}
		})
	case OpRegister, OpPoll, OpRefresh:
		switch {
		case op.Bad == BadKeyUnknown:
			e.Rule, e.Doc = "protocol.md §2.3, §3.4 a client_secret that is no key of the account: 401 invalid_client [ours]", DocRefused
			e.add(ans(401, "invalid_client"), nil)
		case op.Bad == BadKeyMissing:
			e.Rule, e.Doc = "protocol.md §3, §8 client_secret is required: a request without it is malformed (400 invalid_request) or its client unknown (401 invalid_client) [ours]", DocRefused
			e.add(ans(400, "invalid_request"), nil)
			e.add(ans(401, "invalid_client"), nil)
		case s.keyRefused(op.Key):
			expectKeyRefusedOAuth(s, op, e)
		case op.Kind == OpRegister:
			expectRegister(s, op, e)
		case op.Kind == OpPoll:
			expectPoll(s, op, e)
		default:
			expectRefresh(s, op, e)
		}
	case OpLogin, OpCall:
		if op.Kind == OpCall && op.Fn == FnAccountHead {
			e.Rule, e.Doc = "protocol.md §2.1 the only request without a key is HEAD /api/v1/account [doc]", DocOK
			e.add(ans(200), nil)
			break
		}
		if op.Bad == BadKeyUnknown || op.Bad == BadKeyMissing {
			e.Rule, e.Doc = "protocol.md §2.1, §2.3 every request carries an API key of the account [doc]: 403 invalid_api_key [ours]", DocRefused
			e.add(ans(403, "invalid_api_key"), nil)
			break
		}
		if s.keyRefused(op.Key) {
			e.Rule, e.Doc = ruleKey, DocRefused
			e.add(ans(403, "invalid_api_key"), nil)
			break
		}
		if op.Kind == OpLogin {
			expectLogin(s, op, e)
		} else {
			expectCall(s, op, e)
		}
		s.permissions(op, e)
	}
	return e
}

const (
	ruleKey  = "protocol.md §2.3 an inactive or expired key, or a caller outside its allowed IP ranges, is refused [doc]: 403 invalid_api_key [ours]"
	rulePerm = "protocol.md §2.3, §5.1 a key with a permission list calls only the functions named in it [doc]: 403 permission_denied, checked before the token [ours]"
)

// keyFlag is the default key's switch or field an OpSwitch or OpKeyField
// sets (nil: the permissions).
func (s *State) keyFlag(op Op) *bool {
	if op.Kind == OpSwitch {
		return [...]*bool{SwUntrusted: &s.Untrusted, SwUnauth: &s.Unauth, SwAutoTrust: &s.AutoTrust}[op.Switch]
	}
	return [...]*bool{FieldActive: &s.KeyInactive, FieldIPs: &s.KeyIPOut, FieldPerms: nil, FieldExpiry: &s.KeyExpired}[op.Switch]
}

// keyRefused reports whether the key (0 the default, 1 the second) is
// refused whatever the request: inactive, or the explorer outside its IPs.
func (s *State) keyRefused(k int) bool {
	return k == 0 && (s.KeyInactive || s.KeyIPOut || s.KeyExpired || (s.KeyExpiry != 0 && s.Now >= s.KeyExpiry))
}

// refuseAlso says that a request also has what bad describes wrong: an
// answer that would succeed is replaced by its refusal; refusals the
// request earns anyway stay possible too, where the contract does not say
// which check comes first.
func (e *Expectation) refuseAlso(rule string, bad Answer, eff func(*State, int)) {
	var answers []Answer
	var effects []func(*State, int)
	for i, a := range e.Answers {
		if a.Status != 0 && (a.Status < 200 || a.Status > 299) {
			answers, effects = append(answers, a), append(effects, e.effects[i])
		}
	}
	e.Answers, e.effects = answers, effects
	if len(e.Answers) == 0 {
		e.Rule = rule
		e.Doc = DocRefused
	} else {
		e.Rule = rule + "; " + e.Rule
		e.Doc = DocAny
	}
	e.add(bad, eff)
}

// expectKeyRefusedOAuth: the OAuth service refuses a key it does not accept
// as client_secret; the contract does not name the answer.
func expectKeyRefusedOAuth(s *State, op Op, e *Expectation) {
	e.Rule, e.Doc = "protocol.md §2.3, §3 the OAuth service takes the API key as client_secret and refuses an inactive or expired one [doc]", DocRefused
	var eff func(*State, int)
	if op.Kind == OpPoll {
		eff = func(s *State, _ int) { s.Recs[op.Ref].Polled, s.Recs[op.Ref].LastPoll = true, s.Now }
	}
	for _, st := range []int{400, 401, 403} {
		e.add(Answer{Status: st}, eff)
	}
}

// permissions: a permission list that leaves the function out answers 403
// permission_denied, before any token is looked at ("the checks run in this
// order: key, permission, token").
func (s *State) permissions(op Op, e *Expectation) {
	need := fnPerm[op.Fn]
	if op.Kind == OpLogin {
		need = PermLogin
	}
	if op.Key != 0 || s.KeyPerms == 0 || s.KeyPerms&need != 0 {
		return
	}
	e.Answers, e.effects = nil, nil
	e.Rule, e.Doc = rulePerm, DocRefused
	e.add(ans(403, "permission_denied"), nil)
}

// revokeDevice revokes the device's families; forgotten also makes its
// unused device codes useless.
func (s *State) revokeDevice(d int, forgotten bool) {
	for i := range s.Recs {
		r := &s.Recs[i]
		if int(r.Dev) != d {
			continue
		}
		if r.IsFam && !r.UserFam {
			r.FamStatus = FamRevoked
		}
		if r.Kind == recCode && !r.Spent {
			if forgotten {
				r.Stale = staleForgotten
			} else if r.Stale == 0 {
				r.Stale = staleSuperseded // the contract does not say whether it still works
			}
		}
	}
}

func expectRegister(s *State, op Op, e *Expectation) {
	switch op.Bad {
	case BadRequest:
		e.Rule, e.Doc = "protocol.md §3.1 client_id, client_type and response_type are required, public_key and key_type go together, client_type and key_type are from their lists [doc]; client_id api is reserved; 400 invalid_request [ours]", Doc400
		e.add(ans(400, "invalid_request"), nil)
		return
	case BadResponseType:
		e.Rule, e.Doc = "protocol.md §3 a response_type other than device_code: 400 unsupported_response_type [ours]", Doc400
		e.add(ans(400, "unsupported_response_type"), nil)
		return
	case BadSigWrong:
		e.Rule, e.Doc = "protocol.md §3.1, §3.2 a registration's signature must verify with the device's registered key, or on a first registration with the key it sends: 401 invalid_client [ours]", DocAny
		e.add(ans(401, "invalid_client"), nil)
		return
	}
	e.Rule = ruleRegister
	dev := s.Devices[op.Dev]
	newCode := func(s *State, id int) {
		s.Recs[id] = Rec{Kind: recCode, Dev: int8(op.Dev), Issued: s.Now}
	}
	known := dev.Status == DevPending || dev.Status == DevTrusted || dev.Status == DevRefused
	switch {
	case !known:
		e.Doc = DocOK
		e.add(ans(200), func(s *State, id int) {
			s.Devices[op.Dev].Status = DevPending
			newCode(s, id)
		})
	case dev.Keyed && op.Unsigned:
		e.Doc = DocAny
		e.add(ans(400, "invalid_request"), nil)
	default:
		// A re-registration: signed by a trusted device, exchangeable at once;
		// unsigned (a device without a key), back to pending. What becomes of
		// the device's families and earlier codes the contract does not say.
		e.Doc = DocOK
		e.add(ans(200), func(s *State, id int) {
			for i := range s.Recs {
				r := &s.Recs[i]
				if int(r.Dev) != op.Dev {
					continue
				}
				if r.IsFam && !r.UserFam && r.FamStatus == FamAlive {
					r.FamStatus = FamDoubt
				}
				if r.Kind == recCode && !r.Spent && r.Stale != staleForgotten {
					r.Stale = staleReplaced // "every registration replaces the device's previous device code"
				}
			}
			if !s.Devices[op.Dev].Keyed {
				s.Devices[op.Dev].Status = DevPending
			}
			newCode(s, id)
		})
	}
}

// newPair records the token pair made by operation id in family fam.
func (s *State) newPair(id, fam int, dev int8) {
	s.Issued++
	r := &s.Recs[id]
	*r = Rec{Kind: recPair, Fam: fam, Dev: dev, AccExp: s.Now + s.AccessTTL, RefExp: s.Now + s.RefreshTTL, Seq: s.Issued}
	// A family keeps its 8 newest live access tokens [ours].
	var live []int
	for i := range s.Recs {
		o := &s.Recs[i]
		if o.Kind == recPair && o.Fam == fam && !o.Dropped && s.Now < o.AccExp {
			live = append(live, i)
		}
	}
	if len(live) <= 8 {
		return
	}
	slices.SortFunc(live, func(a, b int) int { return s.Recs[b].Seq - s.Recs[a].Seq })
	cut := s.Recs[live[7]].Seq // tokens of one batch share a Seq: a tie at the cut is open
	for _, i := range live[8:] {
		if s.Recs[i].Seq == cut {
			s.Recs[i].DropDoubt = true
			continue
		}
		s.Recs[i].Dropped = true
	}
	for _, i := range live[:8] {
		if s.Recs[i].Seq == cut && s.Recs[live[8]].Seq == cut {
			s.Recs[i].DropDoubt = true
		}
	}
}

func expectPoll(s *State, op Op, e *Expectation) {
	switch op.Bad {
	case BadGrantType:
		e.Rule, e.Doc = "protocol.md §3 an unknown grant_type: 400 unsupported_grant_type [ours]", Doc400
		e.add(ans(400, "unsupported_grant_type"), nil)
		return
	case BadRequest:
		e.Rule, e.Doc = "protocol.md §8 a malformed request (a body that is not valid form encoding, a field given twice, the wrong content type): 400 invalid_request [ours]", Doc400
		e.add(ans(400, "invalid_request"), nil)
		return
	case BadSigMissing, BadSigWrong:
		// "The key is checked before the signature and the signature
		// before the code", for a device the server knows; one it forgot
		// has no key to check against
		if st := s.Devices[op.Dev].Status; st == DevPending || st == DevTrusted || st == DevRefused {
			e.Rule, e.Doc = ruleSig, DocRefused
			e.add(sigAnswer(op.Bad), nil)
			return
		}
	}
	e.Rule = rulePoll
	e.Doc = Doc400
	if op.Bad == BadSigMissing || op.Bad == BadSigWrong {
		defer e.refuseAlso(ruleSig, sigAnswer(op.Bad), nil)
	}
	c := s.Recs[op.Ref]
	mark := func(s *State, _ int) {
		s.Recs[op.Ref].Polled, s.Recs[op.Ref].LastPoll = true, s.Now
	}
	exchange := func(s *State, id int) {
		mark(s, id)
		s.Recs[op.Ref].Spent = true
		s.Devices[op.Dev].Status = DevTrusted
		s.newPair(id, id, int8(op.Dev))
		r := &s.Recs[id]
		r.IsFam, r.FamStatus = true, FamAlive
	}
	expired := s.Now >= c.Issued+s.CodeTTL
	dev := s.Devices[op.Dev].Status
	switch {
	case int(c.Dev) != op.Dev:
		e.add(ans(400, "invalid_grant"), mark)
	case c.Spent:
		errs := []string{"invalid_grant"}
		if expired {
			errs = append(errs, "expired_token")
		}
		e.Doc = DocAny // "a device code can be exchanged once" is [ours, after RFC 8628]
		e.add(ans(400, errs...), mark)
	case c.Stale == staleForgotten:
		e.Doc = DocAny
		e.add(ans(400, "invalid_grant", "expired_token", "access_denied", "authorization_pending"), mark)
	case c.Stale == staleReplaced:
		e.Rule, e.Doc = "protocol.md §3.1, §3.3 every registration replaces the device's previous device code, which is then unknown: invalid_grant [ours]", DocAny
		e.add(ans(400, "invalid_grant"), mark)
	case c.Stale == staleSuperseded:
		e.Doc = DocAny
		if !expired && (dev == DevTrusted || (dev == DevPending && s.AutoTrust)) {
			e.add(ans(200), exchange)
		}
		e.add(ans(400, "invalid_grant", "expired_token", "access_denied", "authorization_pending"), mark)
	case expired:
		errs := []string{"expired_token"}
		if dev == DevRefused {
			errs = append(errs, "access_denied")
		}
		e.Doc = DocAny
		e.add(ans(400, errs...), mark)
	case dev == DevRefused:
		e.Doc = DocAny
		e.add(ans(400, "access_denied"), mark)
	case dev == DevPending && !s.AutoTrust:
		e.add(ans(400, "authorization_pending"), mark)
	default: // trusted, or pending with automatic trust
		e.Doc = DocOK
		e.add(ans(200), exchange)
	}
	// A second poll of the same code within 5 s may be told to slow down
	// (real time counts too, so a fast explorer may always be told so).
	if c.Polled && s.Now-c.LastPoll < 5*time.Second {
		e.add(ans(400, "slow_down"), mark)
	}
}

const ruleSig = "protocol.md §3.2 a device with a key signs every token request: unsigned 400 invalid_request, a signature that does not verify 401 invalid_client [ours]"

// sigAnswer is the answer to a keyed device's request that is unsigned or
// wrongly signed.
func sigAnswer(bad uint8) Answer {
	if bad == BadSigMissing {
		return ans(400, "invalid_request")
	}
	return ans(401, "invalid_client")
}

// deviceTokenLive reports whether the access token of op r is a live device
// token of a trusted device; doubt reports that the contract leaves it open.
func (s *State) deviceTokenLive(r int) (live, doubt bool) {
	rec := s.Recs[r]
	fam := s.famOf(r)
	if fam.UserFam {
		return false, false
	}
	if fam.FamStatus == FamRevoked || rec.Dropped || s.Now >= rec.AccExp {
		return false, false
	}
	st := s.Devices[rec.Dev].Status
	if fam.FamStatus == FamDoubt || rec.DropDoubt || (st != DevTrusted && st != DevRefused && st != DevForgotten) {
		return false, true // a re-registered device's old tokens
	}
	return st == DevTrusted, false
}

func expectLogin(s *State, op Op, e *Expectation) {
	e.Rule = ruleLogin
	byName := op.Auth == 0 || op.Auth == 3 // the userid is the user name
	login := func(s *State, id int) {
		s.newPair(id, id, -1)
		r := &s.Recs[id]
		r.IsFam, r.UserFam, r.User, r.Key, r.FamStatus = true, true, int8(op.User), int8(op.Key), FamAlive
		if byName {
			s.Throttle[op.User] = Throttle{} // "a successful login clears the count"
		}
	}
	defer func() {
		switch {
		case op.Bad == BadRequest:
			e.refuseAlso("protocol.md §4.3 an authtype outside 0-4, no userid, or authtype 0 without password: 400 invalid_request [ours]", ans(400, "invalid_request"), nil)
		case byName && op.Bad != BadUserID && s.throttled(op.User):
			e.refuseAlso("protocol.md §4.3 after 5 failures for one userid within 15 minutes, further attempts get 429 too_many_attempts until the window has passed [ours]", ans(429, "too_many_attempts"), nil)
		case op.Bad == BadPassword || op.Bad == BadUserID || s.Absent&(1<<op.User) != 0:
			e.refuseAlso("protocol.md §4.3 bad credentials: 401 invalid_credentials, the same for an unknown user and a wrong password [ours]", ans(401, "invalid_credentials"), func(s *State, _ int) {
				if op.Bad == BadPassword && s.Absent&(1<<op.User) == 0 {
					s.fail(op.User)
				}
			})
		}
	}()
	live, doubt := false, false
	if op.Ref >= 0 {
		live, doubt = s.deviceTokenLive(op.Ref)
	}
	untrusted, unauth := s.Untrusted, s.Unauth
	if op.Key == 1 {
		untrusted, unauth = false, false // the second key's switches stay off
	}
	// What refuses the login, by its error code; several may apply and the
	// contract does not order them.
	var refusals []string
	deviceOK := live || untrusted
	deviceOpen := doubt || (untrusted && op.Ref >= 0 && !live)
	if !deviceOK {
		if op.Ref < 0 {
			refusals = append(refusals, "device_token_required")
		} else {
			refusals = append(refusals, "untrusted_device")
		}
	}
	insecure := op.Auth != 0
	insecureOK := !insecure || unauth || ((op.Auth == 1 || op.Auth == 2) && live)
	insecureOpen := insecure && !insecureOK && (op.Auth == 1 || op.Auth == 2) && doubt
	if !insecureOK {
		refusals = append(refusals, "insecure_credentials_not_allowed")
	}
	if len(refusals) == 0 {
		e.Doc = DocOK
		e.add(ans(200), login)
	} else {
		e.Doc = Doc403
		if deviceOK {
			e.Doc = DocRefused // "insecure login credentials are refused" [doc]
		}
		e.add(ans(403, refusals...), nil)
	}
	if deviceOpen || insecureOpen {
		// a device token whose standing the contract leaves open
		e.Doc = DocAny
		if len(refusals) > 0 && (insecureOK || insecureOpen) && (deviceOK || deviceOpen) {
			e.add(ans(200), login)
		}
		if len(refusals) == 0 {
			e.add(ans(403, "untrusted_device", "insecure_credentials_not_allowed"), nil)
		} else {
			e.Answers[0].Errors = append(e.Answers[0].Errors, "untrusted_device", "insecure_credentials_not_allowed")
		}
	}
}

func expectRefresh(s *State, op Op, e *Expectation) {
	rec := s.Recs[op.Ref]
	fam := s.famOf(op.Ref)
	famID := rec.Fam
	rotate := func(s *State, id int) {
		r := &s.Recs[op.Ref]
		f := &s.Recs[famID]
		r.RSpent, r.SpentAt = true, s.Now
		f.Spends++
		r.SpentSeq = f.Spends
		s.newPair(id, famID, rec.Dev)
	}
	grace := func(s *State, id int) { s.newPair(id, famID, rec.Dev) }
	revoke := func(s *State, _ int) { s.Recs[famID].FamStatus = FamRevoked }
	doubt := func(s *State, _ int) {
		if s.Recs[famID].FamStatus == FamAlive {
			s.Recs[famID].FamStatus = FamDoubt
		}
	}
	rightClient := (fam.UserFam && op.Dev < 0) || (!fam.UserFam && op.Dev == int(rec.Dev))
	expired := s.Now >= rec.RefExp
	inGrace := rec.RSpent && s.Now-rec.SpentAt < s.Grace
	recent := rec.RSpent && fam.Spends-rec.SpentSeq < 64
	switch {
	case !rightClient:
		e.Rule, e.Doc = ruleClient, DocRefused
		e.add(ans(400, "invalid_grant"), nil)
	case fam.UserFam && op.Key != int(fam.Key):
		e.Rule, e.Doc = ruleKeyRT, DocRefused
		e.add(ans(400, "invalid_grant"), nil)
	case fam.FamStatus == FamRevoked:
		e.Rule, e.Doc = ruleRevoked, DocAny
		st := DevTrusted
		if !fam.UserFam {
			st = s.Devices[rec.Dev].Status
		}
		switch st {
		case DevForgotten: // a device the server no longer knows: its signature cannot be checked
			e.add(ans(400, "invalid_grant"), nil)
			e.add(ans(401, "invalid_client"), nil)
		default:
			e.add(ans(400, "invalid_grant"), nil)
		}
	case expired && rec.RSpent:
		// A spent token past its lifetime: refused; whether it still revokes
		// the family the contract does not say.
		e.Rule, e.Doc = ruleExpiredRT, DocRefused
		e.add(ans(400, "invalid_grant"), doubt)
	case expired:
		e.Rule, e.Doc = ruleExpiredRT, DocRefused
		e.add(ans(400, "invalid_grant"), nil)
	case !fam.UserFam && s.Devices[rec.Dev].Status == DevPending:
		// A device registered again without a key waits for approval: "a
		// device that is no longer trusted cannot refresh: 400 invalid_grant";
		// reuse is judged first, so a spent token presented then still
		// revokes its family.
		e.Rule, e.Doc = "protocol.md §3.4 a device that is no longer trusted cannot refresh: 400 invalid_grant; a spent refresh token revokes its family, also while its device waits for approval again [ours]", DocRefused
		if rec.RSpent && !inGrace && recent {
			e.add(ans(400, "invalid_grant"), revoke)
		} else {
			e.add(ans(400, "invalid_grant"), nil)
		}
	case rec.RSpent && inGrace:
		e.Rule, e.Doc = ruleRotation+"; within the grace a spent token works again", DocAny
		if fam.FamStatus == FamDoubt {
			e.add(ans(400, "invalid_grant"), nil)
		}
		e.add(ans(200), grace)
	case rec.RSpent && !recent:
		e.Rule, e.Doc = ruleRotation+"; a family remembers its 64 newest spent tokens", DocAny
		e.add(ans(400, "invalid_grant"), nil)
	case rec.RSpent:
		e.Rule, e.Doc = ruleRotation, DocAny
		e.add(ans(400, "invalid_grant"), revoke)
	case fam.FamStatus == FamDoubt:
		e.Rule, e.Doc = ruleRefresh, DocAny
		e.add(ans(200), rotate)
		e.add(ans(400, "invalid_grant"), nil)
	default:
		e.Rule, e.Doc = ruleRefresh, DocOK
		e.add(ans(200), rotate)
	}
	if op.Bad == BadSigMissing || op.Bad == BadSigWrong {
		e.refuseAlso(ruleSig, sigAnswer(op.Bad), nil)
	}
}

func expectCall(s *State, op Op, e *Expectation) {
	e.Rule = ruleCall
	if op.Ref < 0 {
		switch {
		case s.Unauth && op.Fn != FnVersion && op.Fn != FnAccount && op.Fn != FnUsersList:
			e.Rule, e.Doc = "protocol.md §5.3 without a user token a caller may use version, account and the user lists; creating or deleting users and the document functions answer 403 forbidden [ours]", Doc403
			e.add(ans(403, "forbidden"), nil)
		case s.Unauth:
			e.Doc = DocOK
			e.add(ans(200), nil)
		default:
			e.Doc = Doc403
			e.add(ans(403, "token_required"), nil)
		}
		return
	}
	rec := s.Recs[op.Ref]
	fam := s.famOf(op.Ref)
	live := fam.FamStatus != FamRevoked && !rec.Dropped && s.Now < rec.AccExp
	var errs401, errs403 []string
	if !live {
		errs401 = append(errs401, "invalid_token")
	}
	if !fam.UserFam {
		errs403 = append(errs403, "insufficient_scope")
	} else if op.Key != int(fam.Key) {
		errs403 = append(errs403, "key_mismatch")
	}
	switch {
	case len(errs401) == 0 && len(errs403) == 0:
		if fam.FamStatus == FamDoubt || rec.DropDoubt {
			s.function(op, int(fam.User), e)
			e.Doc = DocAny
			e.add(ans(401, "invalid_token"), nil)
			return
		}
		s.function(op, int(fam.User), e)
	case len(errs401) > 0 && len(errs403) > 0:
		e.Doc = DocRefused
		e.add(ans(401, errs401...), nil)
		e.add(ans(403, errs403...), nil)
	case len(errs403) > 0:
		e.Doc = Doc403
		if fam.FamStatus == FamDoubt || rec.DropDoubt {
			e.add(ans(401, "invalid_token"), nil)
		}
		e.add(ans(403, errs403...), nil)
	default:
		e.Doc = DocRefused // a real server may answer 403 [doc]
		e.add(ans(401, errs401...), nil)
	}
}

const ruleFunctions = "protocol.md §5.2, §5.3 the functions: any user lists users; creating or deleting another user needs an administrator (403 forbidden); a name, email, card ID or short ID another user has: 409 user_exists; maxrecords 1 to 1000 (400 invalid_request) [ours]"

// function adds the answers of op's function called by user u with a live
// user token.
func (s *State) function(op Op, u int, e *Expectation) {
	exists := func(v int) bool { return v >= 0 && s.Absent&(1<<v) == 0 }
	switch op.Fn {
	case FnUserCreate:
		e.Rule = ruleFunctions
		switch {
		case u != adminUser:
			e.Doc = Doc403
			e.add(ans(403, "forbidden"), nil)
		case exists(int(op.Arg)) || (op.User >= 0 && exists(op.User)):
			e.Doc = DocRefused
			e.add(ans(409, "user_exists"), nil)
		default:
			e.Doc = DocOK
			e.add(ans(201), func(s *State, _ int) { s.Absent &^= 1 << op.Arg })
		}
	case FnUserDelete:
		e.Rule = ruleFunctions
		switch {
		case int(op.Arg) != u && u != adminUser:
			e.Doc = Doc403
			e.add(ans(403, "forbidden"), nil)
		case !exists(int(op.Arg)):
			e.Doc = DocRefused
			e.add(ans(404), nil)
		default:
			e.Doc = DocOK
			e.add(ans(0), func(s *State, _ int) {
				s.Absent |= 1 << op.Arg
				for i := range s.Recs {
					// what becomes of a deleted user's tokens the contract does not say
					if r := &s.Recs[i]; r.IsFam && r.UserFam && r.User == op.Arg && r.FamStatus == FamAlive {
						r.FamStatus = FamDoubt
					}
				}
			})
		}
	case FnDocSubmit:
		e.Rule, e.Doc = ruleFunctions, DocOK
		e.add(ans(201), nil)
	case FnDocHistory:
		e.Rule = ruleFunctions
		if op.Bad == BadRequest {
			e.Doc = Doc400
			e.add(ans(400, "invalid_request"), nil)
			return
		}
		e.Doc = DocOK
		e.add(ans(200), nil)
	default:
		e.Doc = DocOK
		e.add(ans(200), nil)
	}
}
