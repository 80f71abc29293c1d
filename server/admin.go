package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// MaxFaultDelay is the longest delay an injected fault may have. It stays well
// inside the write timeout of `paragon server` (60 s), so a delayed request
// still gets its answer; the delayed request's body is read before the wait.
const MaxFaultDelay = 30 * time.Second

// maxClockOffset bounds the fake clock's total advance (about 100 years), far
// below where a time.Duration overflows.
const maxClockOffset = 100 * 365 * 24 * time.Hour

// Errors of the administration operations (admin API and web page).
var (
	ErrNotFound    = errors.New("not found")
	ErrNoFakeClock = errors.New("the fake clock is off: start the server with the fake clock to move time")
)

// adminPatchKey is PATCH /admin/api/keys/{name}.
func (s *Server) adminPatchKey(r *http.Request) (int, any, *apiError) {
	var kp keyPatchJSON
	if e := decodeJSON(r, &kp); e != nil {
		return 0, nil, e
	}
	k, err := s.patchKey(r.PathValue("name"), kp)
	if err != nil {
		return 0, nil, adminErr(err)
	}
	return http.StatusOK, k, nil
}

// adminPatchSettings is PATCH /admin/api/settings.
func (s *Server) adminPatchSettings(r *http.Request) (int, any, *apiError) {
	var sj settingsJSON
	if e := decodeJSON(r, &sj); e != nil {
		return 0, nil, e
	}
	set, err := s.patchSettings(sj)
	if err != nil {
		return 0, nil, adminErr(err)
	}
	return http.StatusOK, settingsToJSON(set), nil
}

// adminRevoke is POST /admin/api/revoke.
func (s *Server) adminRevoke(r *http.Request) (int, any, *apiError) {
	var req struct {
		Username *string `json:"username"`
		ClientID *string `json:"client_id"`
	}
	if e := decodeJSON(r, &req); e != nil {
		return 0, nil, e
	}
	if (req.Username == nil) == (req.ClientID == nil) {
		return 0, nil, errf(http.StatusBadRequest, "invalid_request", "give exactly one of username and client_id")
	}
	var n int
	var err error
	if req.Username != nil {
		n, err = s.revokeUser(*req.Username)
	} else {
		n, err = s.revokeClient(*req.ClientID)
	}
	if err != nil {
		return 0, nil, adminErr(err)
	}
	return http.StatusOK, map[string]int{"revoked": n}, nil
}

// adminAdvanceClock is POST /admin/api/clock.
func (s *Server) adminAdvanceClock(r *http.Request) (int, any, *apiError) {
	var req struct {
		Advance string `json:"advance"`
	}
	if e := decodeJSON(r, &req); e != nil {
		return 0, nil, e
	}
	d, err := time.ParseDuration(req.Advance)
	if err != nil || d < 0 {
		return 0, nil, errf(http.StatusBadRequest, "invalid_request", "advance must be a non-negative Go duration such as \"61m\"")
	}
	now, err := s.advanceClock(d)
	if err != nil {
		return 0, nil, adminErr(err)
	}
	return http.StatusOK, map[string]string{"now": now.UTC().Format(time.RFC3339)}, nil
}

// adminAddFault is POST /admin/api/faults.
func (s *Server) adminAddFault(r *http.Request) (int, any, *apiError) {
	var fj faultJSON
	if e := decodeJSON(r, &fj); e != nil {
		return 0, nil, e
	}
	f, e := fj.toFault()
	if e != nil {
		return 0, nil, e
	}
	s.mu.Lock()
	s.st.faults = append(s.st.faults, f)
	s.faulty.Store(true)
	s.mu.Unlock()
	return http.StatusOK, map[string]string{"status": "ok"}, nil
}

// clearFaults forgets every injected fault.
func (s *Server) clearFaults() {
	s.mu.Lock()
	s.st.faults = nil
	s.faulty.Store(false)
	s.mu.Unlock()
}

type deviceJSON struct {
	ClientID     string `json:"client_id"`
	ClientType   string `json:"client_type"`
	Description  string `json:"description"`
	Status       string `json:"status"`
	RegisteredAt string `json:"registered_at"`
}

type faultJSON struct {
	Path   string `json:"path"`
	Status int    `json:"status"`
	Delay  string `json:"delay,omitempty"`
	Drop   bool   `json:"drop"`
	Count  *int   `json:"count,omitempty"`
}

func (fj faultJSON) toFault() (*fault, *apiError) {
	f := &fault{Path: fj.Path, Status: fj.Status, Drop: fj.Drop, Count: 1}
	if !strings.HasPrefix(f.Path, "/") || f.Path == "/admin" || strings.HasPrefix(f.Path, "/admin/") {
		return nil, errf(http.StatusBadRequest, "invalid_request", "path must be an absolute path outside /admin")
	}
	if f.Status != 0 && (f.Status < 400 || f.Status > 599) {
		return nil, errf(http.StatusBadRequest, "invalid_request", "status must be 400..599 (or 0 for none)")
	}
	if fj.Delay != "" {
		d, err := time.ParseDuration(fj.Delay)
		if err != nil || d < 0 || d > MaxFaultDelay {
			return nil, errf(http.StatusBadRequest, "invalid_request", "delay must be a Go duration up to %s", MaxFaultDelay)
		}
		f.Delay = d
	}
	if fj.Count != nil {
		if *fj.Count < 1 || *fj.Count > 1000000 {
			return nil, errf(http.StatusBadRequest, "invalid_request", "count must be from 1 to 1000000")
		}
		f.Count = *fj.Count
	}
	if f.Status == 0 && !f.Drop && f.Delay == 0 {
		return nil, errf(http.StatusBadRequest, "invalid_request", "a fault needs a status, a delay or drop")
	}
	return f, nil
}

func (s *Server) faults() []faultJSON {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []faultJSON{}
	for _, f := range s.st.faults {
		c := f.Count
		fj := faultJSON{Path: f.Path, Status: f.Status, Drop: f.Drop, Count: &c}
		if f.Delay > 0 {
			fj.Delay = f.Delay.String()
		}
		out = append(out, fj)
	}
	return out
}

// decodeJSON reads a strict JSON body (unknown fields refused). An empty body
// decodes as {}.
func decodeJSON(r *http.Request, v any) *apiError {
	body, e := readBody(r)
	if e != nil {
		return e
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errf(http.StatusBadRequest, "invalid_request", "the body is not the expected JSON: %v", err)
	}
	if dec.More() {
		return errf(http.StatusBadRequest, "invalid_request", "the body has data after the JSON value")
	}
	return nil
}

func adminErr(err error) *apiError {
	switch {
	case errors.Is(err, ErrNotFound):
		return errf(http.StatusNotFound, "not_found", "%v", err)
	case errors.Is(err, ErrNoFakeClock):
		return errf(http.StatusConflict, "fake_clock_disabled", "%v", err)
	case errors.Is(err, errStore):
		return storeErr()
	default:
		return errf(http.StatusBadRequest, "invalid_request", "%v", err)
	}
}

// devices lists every device, sorted by registration time then id.
func (s *Server) devices() []device {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]device, 0, len(s.st.devices))
	for _, d := range s.st.devices {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].RegisteredAt.Equal(out[j].RegisteredAt) {
			return out[i].RegisteredAt.Before(out[j].RegisteredAt)
		}
		return out[i].ClientID < out[j].ClientID
	})
	return out
}

func (s *Server) setDeviceStatus(cid, status string) error {
	if err := nameErr("device", cid); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.st.devices[cid]
	if d == nil {
		return fmt.Errorf("device %q: %w", cid, ErrNotFound)
	}
	d.Status = status
	recs := []Record{deviceRecord(d)}
	if status != statusTrusted {
		recs = append(recs, s.revokeLocked(familyDevice, cid)...)
	}
	s.queueLocked(recs...)
	return nil
}

// untrustDevice forgets a device: its tokens stop working and it must
// register again.
func (s *Server) untrustDevice(cid string) error {
	if err := nameErr("device", cid); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.st.devices[cid]
	if d == nil {
		return fmt.Errorf("device %q: %w", cid, ErrNotFound)
	}
	if len(d.CodeHash) == 32 {
		delete(s.st.codes, [32]byte(d.CodeHash))
	}
	delete(s.st.devices, cid)
	recs := append(s.revokeLocked(familyDevice, cid),
		Record{Kind: KindDevice, Key: cid})
	s.queueLocked(recs...)
	return nil
}

func (s *Server) keys() []Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Key, 0, len(s.st.keys))
	for _, k := range s.st.keys {
		out = append(out, k.Key.clone())
	}
	return out
}

// keyPatchJSON is the body of PATCH /admin/api/keys/{name}: any subset of the
// file's fields except name and value.
type keyPatchJSON struct {
	Name                 *string   `json:"name"`
	Value                *string   `json:"value"`
	Type                 *string   `json:"type"`
	Active               *bool     `json:"active"`
	ExpiresAt            *string   `json:"expires_at"`
	AllowedIPs           *[]string `json:"allowed_ips"`
	AllowUnauthenticated *bool     `json:"allow_unauthenticated"`
	AllowUntrusted       *bool     `json:"allow_untrusted"`
	AutoTrust            *bool     `json:"auto_trust"`
	Permissions          *[]string `json:"permissions"`
}

func (s *Server) patchKey(name string, p keyPatchJSON) (Key, error) {
	if err := nameErr("key", name); err != nil {
		return Key{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := -1
	for j, k := range s.st.keys {
		if k.Name == name {
			i = j
		}
	}
	if i < 0 {
		return Key{}, fmt.Errorf("key %q: %w", name, ErrNotFound)
	}
	k := s.st.keys[i].Key.clone()
	if (p.Name != nil && *p.Name != k.Name) || (p.Value != nil && *p.Value != k.Value) {
		return Key{}, errors.New("a key's name and value cannot be changed")
	}
	setS := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setB := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	setL := func(dst *[]string, v *[]string) {
		if v != nil {
			*dst = append([]string{}, (*v)...)
		}
	}
	setS(&k.Type, p.Type)
	setS(&k.ExpiresAt, p.ExpiresAt)
	setB(&k.Active, p.Active)
	setB(&k.AllowUnauthenticated, p.AllowUnauthenticated)
	setB(&k.AllowUntrusted, p.AllowUntrusted)
	setB(&k.AutoTrust, p.AutoTrust)
	setL(&k.AllowedIPs, p.AllowedIPs)
	setL(&k.Permissions, p.Permissions)
	ak, err := newAPIKey(k)
	if err != nil {
		return Key{}, err
	}
	s.st.keys[i] = ak
	s.queueLocked(keyRecord(ak))
	return ak.Key.clone(), nil
}

func (s *Server) settings() Settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.settings
}

func (s *Server) patchSettings(p settingsJSON) (Settings, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set, err := p.apply(s.st.settings)
	if err != nil {
		return Settings{}, err
	}
	s.st.settings = set
	s.queueLocked(settingsRecord(set))
	return set, nil
}

func (s *Server) revokeUser(name string) (int, error) {
	if err := nameErr("user", name); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.users[name] == nil {
		return 0, fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	recs := s.revokeLocked(familyUser, name)
	s.queueLocked(recs...)
	return len(recs), nil
}

func (s *Server) revokeClient(cid string) (int, error) {
	if err := nameErr("device", cid); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.devices[cid] == nil {
		return 0, fmt.Errorf("device %q: %w", cid, ErrNotFound)
	}
	recs := s.revokeLocked(familyDevice, cid)
	s.queueLocked(recs...)
	return len(recs), nil
}

func (s *Server) advanceClock(d time.Duration) (time.Time, error) {
	if !s.fake {
		return time.Time{}, ErrNoFakeClock
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if d > maxClockOffset-s.st.offset {
		return time.Time{}, errClockTooFar
	}
	s.st.offset += d
	now := s.nowLocked()
	s.queueLocked(clockRecord(now))
	return now, nil
}

// reset brings the server back to its start state (the account), dropping
// everything stored.
func (s *Server) reset() error {
	st, err := newState(s.initial, s.initUsers)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queueResetLocked()
	s.st = st
	s.faulty.Store(false)
	return nil
}

var (
	errNegativeAdvance = errors.New("the clock only moves forward")
	errClockTooFar     = errors.New("the fake clock cannot move more than 100 years ahead of its start")
)
