package server

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"time"
)

// maxSpentPerFamily bounds how many spent refresh-token hashes a family keeps
// for reuse detection; older ones are forgotten (presenting one then gets
// invalid_grant without revoking the family).
const maxSpentPerFamily = 64

// maxAccessPerFamily bounds how many live access tokens a family keeps: the
// newest few stay valid until they expire (so requests in flight during a
// refresh still pass), older ones are forgotten and answer invalid_token.
const maxAccessPerFamily = 8

// apiKey is a key with its parsed fields.
type apiKey struct {
	Key
	prefixes  []netip.Prefix
	expires   time.Time // zero: never
	valueHash [32]byte
}

func newAPIKey(k Key) (*apiKey, error) {
	k = k.clone()
	if err := k.validate(); err != nil {
		return nil, err
	}
	ak := &apiKey{Key: k, valueHash: sha256.Sum256([]byte(k.Value))}
	if k.ExpiresAt != "" {
		ak.expires, _ = time.Parse(time.RFC3339, k.ExpiresAt)
	}
	for _, ip := range k.AllowedIPs {
		p, _ := parsePrefix(ip)
		ak.prefixes = append(ak.prefixes, p)
	}
	return ak, nil
}

// user is an account user; the password is only kept as a bcrypt hash.
type user struct {
	Username     string `json:"username"`
	PasswordHash []byte `json:"password_hash,omitempty"`
	FullName     string `json:"full_name,omitempty"`
	Email        string `json:"email,omitempty"`
	CardID       string `json:"card_id,omitempty"`
	ShortID      string `json:"short_id,omitempty"`
	Admin        bool   `json:"admin,omitempty"`
	Deleted      bool   `json:"deleted,omitempty"` // tombstone of an account-file user
}

// device is a registered device with its latest device code.
type device struct {
	ClientID     string    `json:"client_id"`
	ClientType   string    `json:"client_type"`
	Description  string    `json:"description,omitempty"`
	Status       string    `json:"status"`
	RegisteredAt time.Time `json:"registered_at"`
	KeyType      string    `json:"key_type,omitempty"`
	PublicKey    []byte    `json:"public_key,omitempty"`
	CodeHash     []byte    `json:"code_hash,omitempty"`
	CodeExpires  time.Time `json:"code_expires"`
	CodeUsed     bool      `json:"code_used,omitempty"`

	// Polling pace, in memory only.
	polled         bool
	lastPollReal   time.Time
	lastPollOffset time.Duration
}

const (
	statusPending = "pending"
	statusTrusted = "trusted"
	statusRefused = "refused"
)

// famKind says who a token family belongs to: a user (a login) or a device
// (a device-code exchange).
type famKind uint8

const (
	familyUser   famKind = 0
	familyDevice famKind = 1
)

func (k famKind) String() string {
	if k == familyDevice {
		return "device"
	}
	return "user"
}

// famID is a family's id: 8 bytes of real creation time (Unix ns, big
// endian) and 4 random bytes. Its text form, 24 hex digits, is the store key.
type famID [12]byte

func (id famID) String() string { return hex.EncodeToString(id[:]) }

// parseFamID reads the text form of a famID (lower-case hex only, so that
// every id has one text form).
func parseFamID(s string) (famID, bool) {
	var id famID
	if len(s) != 2*len(id) {
		return id, false
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil || hex.EncodeToString(id[:]) != s {
		return id, false
	}
	return id, true
}

// family is every token descended from one login (kind user) or one device
// code exchange (kind device). Revoking a family deletes it. A live family
// costs a few hundred bytes (docs/performance.md), so it holds fixed-size
// hashes and integer times, and its owner's name once per owner.
type family struct {
	id      famID
	kind    famKind
	owner   *owner // the user or device; its families form a list, oldest first
	keyName string // the API key the family was issued through
	created instant
	prev    *family // the owner's list
	next    *family
	access  []accessEntry  // oldest first
	refresh []refreshEntry // oldest first
}

// owner is a user or device with live token families, in a list ordered by
// creation (then id): capping and revoking an owner's families never scan
// anyone else's.
type owner struct {
	kind        famKind
	name        string
	first, last *family
	n           int
}

type ownerKey struct {
	kind famKind
	name string
}

type accessEntry struct {
	hash    [32]byte
	expires instant
}

type refreshEntry struct {
	hash    [32]byte
	expires instant
	spent   instant // 0: still live
}

// instant is a time as Unix nanoseconds; 0 means none. Conversions saturate
// outside the years 1678 to 2262 instead of wrapping around as
// time.Time.UnixNano does, so a time past 2262 is kept as the last instant of
// 2262: with lifetimes and the fake clock bounded to 100 years each
// (maxLifetime, maxClockOffset), every time the server computes before the
// year 2062 fits, and any stored time reads back as it was written.
type instant int64

const (
	minInstant = instant(math.MinInt64 + 1)
	maxInstant = instant(math.MaxInt64)
)

var (
	minInstantTime = time.Unix(0, int64(minInstant))
	maxInstantTime = time.Unix(0, int64(maxInstant))
)

func toInstant(t time.Time) instant {
	switch {
	case t.IsZero():
		return 0
	case t.After(maxInstantTime):
		return maxInstant
	case t.Before(minInstantTime):
		return minInstant
	}
	if n := t.UnixNano(); n != 0 {
		return instant(n)
	}
	return 1 // the Unix epoch itself: 0 means none
}

func (i instant) time() time.Time {
	if i == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(i)).UTC()
}

// document is the metadata of a submitted print job.
type document struct {
	ID          string    `json:"id"`
	Seq         uint64    `json:"seq"`
	Owner       string    `json:"owner"`
	Title       string    `json:"title"`
	Copies      int       `json:"copies"`
	Duplex      bool      `json:"duplex"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	SubmittedAt time.Time `json:"submitted_at"`
}

// fault is one injected failure (admin API); in memory only.
type fault struct {
	Path   string
	Status int
	Delay  time.Duration
	Drop   bool
	Count  int
}

// state is everything the server knows; guarded by Server.mu.
type state struct {
	settings Settings
	keys     []*apiKey
	users    map[string]*user
	devices  map[string]*device
	codes    map[[32]byte]string  // device code hash → client id
	owners   map[ownerKey]*owner  // users and devices with token families
	families int                  // live token families in all
	tokens   map[[32]byte]*family // access and refresh token hash → family
	docs     map[string]*document
	docSeq   uint64
	offset   time.Duration // fake clock advance
	throttle map[string][]time.Time
	faults   []*fault
}

// newState builds the start state from the account and the hashed users.
func newState(a *Account, users map[string]*user) (*state, error) {
	st := &state{
		settings: a.Settings,
		users:    map[string]*user{},
		devices:  map[string]*device{},
		codes:    map[[32]byte]string{},
		owners:   map[ownerKey]*owner{},
		tokens:   map[[32]byte]*family{},
		docs:     map[string]*document{},
		throttle: map[string][]time.Time{},
	}
	for _, k := range a.Keys {
		ak, err := newAPIKey(k)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k.Name, err)
		}
		st.keys = append(st.keys, ak)
	}
	for name, u := range users {
		c := *u
		st.users[name] = &c
	}
	return st, nil
}

// load overlays stored records on the start state.
func (st *state) load(r Record, fake bool, fakeBase time.Time) error {
	bad := func(err error) error {
		return fmt.Errorf("stored %s record %q is damaged: %w", r.Kind, r.Key, err)
	}
	switch r.Kind {
	case KindDevice:
		var d device
		if err := json.Unmarshal(r.Value, &d); err != nil {
			return bad(err)
		}
		st.devices[d.ClientID] = &d
		if len(d.CodeHash) == sha256.Size {
			st.codes[[32]byte(d.CodeHash)] = d.ClientID
		}
	case KindFamily:
		f, err := decodeFamily(r.Value)
		if err != nil {
			return bad(err)
		}
		if f.id.String() != r.Key {
			return bad(errors.New("the record's key is not the family's id"))
		}
		for _, k := range st.keys {
			if k.Name == f.keyName {
				f.keyName = k.Name // share the key's copy of the name
			}
		}
		st.addFamily(f, f.owner.kind, f.owner.name)
	case KindUser:
		var u user
		if err := json.Unmarshal(r.Value, &u); err != nil {
			return bad(err)
		}
		if u.Deleted {
			delete(st.users, u.Username)
		} else {
			st.users[u.Username] = &u
		}
	case KindDocument:
		var d document
		if err := json.Unmarshal(r.Value, &d); err != nil {
			return bad(err)
		}
		st.docs[d.ID] = &d
		if d.Seq > st.docSeq {
			st.docSeq = d.Seq
		}
	case KindKey:
		var k Key
		if err := json.Unmarshal(r.Value, &k); err != nil {
			return bad(err)
		}
		for i, old := range st.keys {
			if old.Name == k.Name {
				ak, err := newAPIKey(k)
				if err != nil {
					return bad(err)
				}
				st.keys[i] = ak
			}
		}
	case KindSettings:
		var s settingsJSON
		if err := json.Unmarshal(r.Value, &s); err != nil {
			return bad(err)
		}
		set, err := s.apply(st.settings)
		if err != nil {
			// Written by a version without the 100-year bound: keep the
			// lifetimes it allowed, up to the bound.
			set, err = s.clamped().apply(st.settings)
		}
		if err != nil {
			return bad(err)
		}
		st.settings = set
	case KindClock:
		var c clockJSON
		if err := json.Unmarshal(r.Value, &c); err != nil {
			return bad(err)
		}
		if fake && c.Now.After(fakeBase) {
			st.offset = c.Now.Sub(fakeBase)
		}
	default:
		return fmt.Errorf("stored record of unknown kind %q", r.Kind)
	}
	return nil
}

// addFamily indexes a new family f (its id, key name, creation time and
// tokens set) under its owner.
func (st *state) addFamily(f *family, kind famKind, name string) {
	k := ownerKey{kind, name}
	o := st.owners[k]
	if o == nil {
		o = &owner{kind: kind, name: name}
		st.owners[k] = o
	}
	f.kind, f.owner = kind, o
	// Insert in (created, id) order from the end: new families come last.
	after := o.last
	for after != nil && (f.created < after.created || (f.created == after.created && bytes.Compare(f.id[:], after.id[:]) < 0)) {
		after = after.prev
	}
	f.prev = after
	if after == nil {
		f.next, o.first = o.first, f
	} else {
		f.next, after.next = after.next, f
	}
	if f.next == nil {
		o.last = f
	} else {
		f.next.prev = f
	}
	o.n++
	st.families++
	for _, a := range f.access {
		st.tokens[a.hash] = f
	}
	for _, rt := range f.refresh {
		st.tokens[rt.hash] = f
	}
}

// dropFamily deletes a family and its tokens; it returns the store record.
func (st *state) dropFamily(f *family) Record {
	for _, a := range f.access {
		delete(st.tokens, a.hash)
	}
	for _, rt := range f.refresh {
		delete(st.tokens, rt.hash)
	}
	o := f.owner
	if f.prev == nil {
		o.first = f.next
	} else {
		f.prev.next = f.next
	}
	if f.next == nil {
		o.last = f.prev
	} else {
		f.next.prev = f.prev
	}
	f.prev, f.next = nil, nil
	o.n--
	if o.n == 0 {
		delete(st.owners, ownerKey{o.kind, o.name})
	}
	st.families--
	return Record{Kind: KindFamily, Key: f.id.String()}
}

// ownerFamilies returns the families of a user or device, oldest first.
func (st *state) ownerFamilies(kind famKind, name string) []*family {
	o := st.owners[ownerKey{kind, name}]
	if o == nil {
		return nil
	}
	out := make([]*family, 0, o.n)
	for f := o.first; f != nil; f = f.next {
		out = append(out, f)
	}
	return out
}

// prune forgets a family's expired tokens and old spent refresh tokens. It
// reports whether the family has nothing live left.
func (st *state) prune(f *family, now instant) (dead bool) {
	access := f.access[:0]
	for i, a := range f.access {
		if now < a.expires && len(f.access)-i <= maxAccessPerFamily {
			access = append(access, a)
		} else {
			delete(st.tokens, a.hash)
		}
	}
	clear(f.access[len(access):])
	f.access = access
	// Keep the live refresh tokens and the newest maxSpentPerFamily spent
	// ones, in issue order (oldest first).
	spent := 0
	for _, rt := range f.refresh {
		if now < rt.expires && rt.spent != 0 {
			spent++
		}
	}
	refresh := f.refresh[:0]
	for _, rt := range f.refresh {
		keep := now < rt.expires
		if keep && rt.spent != 0 {
			keep = spent <= maxSpentPerFamily
			spent--
		}
		if keep {
			refresh = append(refresh, rt)
		} else {
			delete(st.tokens, rt.hash)
		}
	}
	clear(f.refresh[len(refresh):])
	f.refresh = refresh
	for _, rt := range f.refresh {
		if rt.spent == 0 {
			return false
		}
	}
	return len(f.access) == 0
}

// sweep forgets expired tokens, dead families, refused devices and pending
// devices whose code ran out. It returns the store records to write.
func (st *state) sweep(now time.Time) []Record {
	var recs []Record
	n := toInstant(now)
	for _, o := range st.owners {
		for f := o.first; f != nil; {
			next := f.next
			na, nr := len(f.access), len(f.refresh)
			if st.prune(f, n) {
				recs = append(recs, st.dropFamily(f))
			} else if len(f.access) != na || len(f.refresh) != nr {
				recs = append(recs, familyRecord(f))
			}
			f = next
		}
	}
	// Ids grow with time: writing them in order keeps the store's pages full.
	sort.Slice(recs, func(i, j int) bool { return recs[i].Key < recs[j].Key })
	for id, d := range st.devices {
		if d.Status == statusTrusted || now.Before(d.CodeExpires) {
			continue
		}
		if len(d.CodeHash) == sha256.Size {
			delete(st.codes, [32]byte(d.CodeHash))
		}
		delete(st.devices, id)
		recs = append(recs, Record{Kind: KindDevice, Key: id})
	}
	for id, fails := range st.throttle {
		if len(fails) == 0 || !now.Before(fails[len(fails)-1].Add(throttleWindow)) {
			delete(st.throttle, id)
		}
	}
	return recs
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only plain structs are marshalled here.
		panic(err)
	}
	return b
}

func familyRecord(f *family) Record {
	return Record{Kind: KindFamily, Key: f.id.String(), Value: encodeFamily(f)}
}

func deviceRecord(d *device) Record {
	return Record{Kind: KindDevice, Key: d.ClientID, Value: mustJSON(d)}
}

func userRecord(u *user) Record {
	return Record{Kind: KindUser, Key: u.Username, Value: mustJSON(u)}
}

func documentRecord(d *document) Record {
	return Record{Kind: KindDocument, Key: d.ID, Value: mustJSON(d)}
}

func keyRecord(k *apiKey) Record {
	return Record{Kind: KindKey, Key: k.Name, Value: mustJSON(k.Key)}
}

func settingsRecord(s Settings) Record {
	return Record{Kind: KindSettings, Key: "account", Value: mustJSON(settingsToJSON(s))}
}

type clockJSON struct {
	Now time.Time `json:"now"`
}

func clockRecord(now time.Time) Record {
	return Record{Kind: KindClock, Key: "fake", Value: mustJSON(clockJSON{Now: now})}
}

// newSecret returns a 256-bit random token (base64url) and its SHA-256 hash.
func newSecret() (string, [32]byte) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	return tok, hashToken(tok)
}

// hashToken hashes a token (or any short secret) without copying it to the
// heap: tokens are 43 bytes, longer values take the general path.
func hashToken(tok string) [32]byte {
	var buf [64]byte
	if len(tok) <= len(buf) {
		return sha256.Sum256(append(buf[:0], tok...))
	}
	return sha256.Sum256([]byte(tok))
}

// newFamID returns a unique id that sorts by creation time (real time), so
// that stored records are appended in key order and the store's pages stay
// full.
func newFamID() famID {
	var id famID
	binary.BigEndian.PutUint64(id[:8], uint64(time.Now().UnixNano()))
	if _, err := rand.Read(id[8:]); err != nil {
		panic(err)
	}
	return id
}

// newID is the text form of a new famID (also used for document ids).
func newID() string {
	return newFamID().String()
}

// settingsJSON is the admin API's (and the store's) form of Settings.
type settingsJSON struct {
	AccessTokenTTL  *string `json:"access_token_ttl,omitempty"`
	RefreshTokenTTL *string `json:"refresh_token_ttl,omitempty"`
	DeviceCodeTTL   *string `json:"device_code_ttl,omitempty"`
	RefreshGrace    *string `json:"refresh_grace,omitempty"`
}

func settingsToJSON(s Settings) settingsJSON {
	str := func(d time.Duration) *string { v := d.String(); return &v }
	return settingsJSON{
		AccessTokenTTL:  str(s.AccessTokenTTL),
		RefreshTokenTTL: str(s.RefreshTokenTTL),
		DeviceCodeTTL:   str(s.DeviceCodeTTL),
		RefreshGrace:    str(s.RefreshGrace),
	}
}

// clamped returns j with every lifetime over maxLifetime set to maxLifetime.
func (j settingsJSON) clamped() settingsJSON {
	for _, v := range []**string{&j.AccessTokenTTL, &j.RefreshTokenTTL, &j.DeviceCodeTTL, &j.RefreshGrace} {
		if *v == nil {
			continue
		}
		if d, err := time.ParseDuration(**v); err == nil && d > maxLifetime {
			m := maxLifetime.String()
			*v = &m
		}
	}
	return j
}

// apply returns base with the fields present in j replaced.
func (j settingsJSON) apply(base Settings) (Settings, error) {
	set := func(dst *time.Duration, v *string, name string) error {
		if v == nil {
			return nil
		}
		d, err := time.ParseDuration(*v)
		if err != nil {
			return fmt.Errorf("%s: %q is not a Go duration", name, *v)
		}
		*dst = d
		return nil
	}
	for _, f := range []struct {
		dst  *time.Duration
		v    *string
		name string
	}{
		{&base.AccessTokenTTL, j.AccessTokenTTL, "access_token_ttl"},
		{&base.RefreshTokenTTL, j.RefreshTokenTTL, "refresh_token_ttl"},
		{&base.DeviceCodeTTL, j.DeviceCodeTTL, "device_code_ttl"},
		{&base.RefreshGrace, j.RefreshGrace, "refresh_grace"},
	} {
		if err := set(f.dst, f.v, f.name); err != nil {
			return base, err
		}
	}
	return base, base.validate()
}
