package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
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

// family is every token descended from one login (kind user) or one device
// code exchange (kind device). Revoking a family deletes it.
type family struct {
	ID        string         `json:"id"`
	Kind      string         `json:"kind"`
	Username  string         `json:"username,omitempty"`
	ClientID  string         `json:"client_id,omitempty"`
	KeyName   string         `json:"key_name"`
	CreatedAt time.Time      `json:"created_at"`
	Access    []accessEntry  `json:"access"`
	Refresh   []refreshEntry `json:"refresh"`
}

const (
	familyUser   = "user"
	familyDevice = "device"
)

type accessEntry struct {
	Hash    []byte    `json:"h"`
	Expires time.Time `json:"e"`
}

type refreshEntry struct {
	Hash    []byte    `json:"h"`
	Expires time.Time `json:"e"`
	Spent   time.Time `json:"s,omitzero"` // zero: still live
}

type tokRef struct {
	fam     *family
	refresh bool
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
	codes    map[[32]byte]string // device code hash → client id
	families map[string]*family
	tokens   map[[32]byte]tokRef
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
		families: map[string]*family{},
		tokens:   map[[32]byte]tokRef{},
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
		st.families[f.ID] = f
		st.indexFamily(f)
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

func (st *state) indexFamily(f *family) {
	for _, a := range f.Access {
		if len(a.Hash) == sha256.Size {
			st.tokens[[32]byte(a.Hash)] = tokRef{fam: f}
		}
	}
	for _, rt := range f.Refresh {
		if len(rt.Hash) == sha256.Size {
			st.tokens[[32]byte(rt.Hash)] = tokRef{fam: f, refresh: true}
		}
	}
}

func (st *state) unindexFamily(f *family) {
	for _, a := range f.Access {
		if len(a.Hash) == sha256.Size {
			delete(st.tokens, [32]byte(a.Hash))
		}
	}
	for _, rt := range f.Refresh {
		if len(rt.Hash) == sha256.Size {
			delete(st.tokens, [32]byte(rt.Hash))
		}
	}
}

// dropFamily deletes a family and its tokens; it returns the store record.
func (st *state) dropFamily(f *family) Record {
	st.unindexFamily(f)
	delete(st.families, f.ID)
	return Record{Kind: KindFamily, Key: f.ID}
}

// prune forgets a family's expired tokens and old spent refresh tokens. It
// reports whether the family has nothing live left.
func (st *state) prune(f *family, now time.Time) (dead bool) {
	access := f.Access[:0]
	for i, a := range f.Access {
		if now.Before(a.Expires) && len(f.Access)-i <= maxAccessPerFamily {
			access = append(access, a)
		} else {
			delete(st.tokens, [32]byte(a.Hash))
		}
	}
	f.Access = access
	refresh := make([]refreshEntry, 0, len(f.Refresh))
	spent := 0
	for i := len(f.Refresh) - 1; i >= 0; i-- {
		rt := f.Refresh[i]
		keep := now.Before(rt.Expires)
		if keep && !rt.Spent.IsZero() {
			spent++
			keep = spent <= maxSpentPerFamily
		}
		if keep {
			refresh = append(refresh, rt)
		} else {
			delete(st.tokens, [32]byte(rt.Hash))
		}
	}
	// Restore issue order (oldest first).
	for i, j := 0, len(refresh)-1; i < j; i, j = i+1, j-1 {
		refresh[i], refresh[j] = refresh[j], refresh[i]
	}
	f.Refresh = refresh
	for _, rt := range f.Refresh {
		if rt.Spent.IsZero() {
			return false
		}
	}
	return len(f.Access) == 0
}

// sweep forgets expired tokens, dead families, refused devices and pending
// devices whose code ran out. It returns the store records to write.
func (st *state) sweep(now time.Time) []Record {
	var recs []Record
	ids := make([]string, 0, len(st.families))
	for id := range st.families {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		f := st.families[id]
		na, nr := len(f.Access), len(f.Refresh)
		if st.prune(f, now) {
			recs = append(recs, st.dropFamily(f))
		} else if len(f.Access) != na || len(f.Refresh) != nr {
			recs = append(recs, familyRecord(f))
		}
	}
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
	return Record{Kind: KindFamily, Key: f.ID, Value: encodeFamily(f)}
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

func hashToken(tok string) [32]byte {
	return sha256.Sum256([]byte(tok))
}

// newID returns a unique id that sorts by creation time (real time), so that
// stored records are appended in key order and the store's pages stay full.
func newID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixNano()))
	if _, err := rand.Read(b[8:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:12])
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
