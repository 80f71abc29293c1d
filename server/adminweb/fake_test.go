package adminweb

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

const testAdminToken = "admin-secret-token"

// fakeBackend is an in-memory Backend that records every change it is asked
// to make, as one line per call ("approve dev-1").
type fakeBackend struct {
	mu       sync.Mutex
	devices  []Device
	keys     []Key
	settings Settings
	users    []User
	now      time.Time
	fake     bool
	calls    []string
	patches  map[string]KeyPatch
	failNext error // returned (once) by the next change
}

// newFakeBackend holds the demo account of the contract (section 7.2), a
// pending and a trusted device, on a fake clock.
func newFakeBackend() *fakeBackend {
	now := time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)
	return &fakeBackend{
		now:  now,
		fake: true,
		devices: []Device{
			{ClientID: "6f1c2a7e-3b1d-4c55-9a0e-5d2f8b7c9e01", ClientType: "desktop_client", Description: "QA laptop, build agent 3", Status: "pending", RegisteredAt: now.Add(-4 * time.Minute)},
			{ClientID: "printer-lobby-01", ClientType: "printer", Description: "Lobby printer, 2nd floor", Status: "trusted", RegisteredAt: now.Add(-26 * time.Hour)},
			{ClientID: "unknown-kiosk", ClientType: "server", Description: "", Status: "refused", RegisteredAt: now.Add(-3 * 24 * time.Hour)},
		},
		keys: []Key{{
			Name: "default", Type: "general", Active: true,
			AllowedIPs: []string{}, Permissions: []string{},
		}},
		settings: Settings{AccessTokenTTL: time.Hour, RefreshTokenTTL: 2160 * time.Hour, DeviceCodeTTL: 72 * time.Hour},
		users: []User{
			{Username: "alice", FullName: "Alice Liddell", Email: "alice@example.com"},
			{Username: "bob", FullName: "Bob the Builder", Email: "bob@example.com"},
			{Username: "carol", FullName: "Carol Queen", Email: "carol@example.com", Admin: true},
		},
		patches: map[string]KeyPatch{},
	}
}

func (f *fakeBackend) CheckAdminToken(tok string) bool { return tok == testAdminToken }

func (f *fakeBackend) record(format string, args ...any) error {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	err := f.failNext
	f.failNext = nil
	return err
}

// Calls returns the changes asked for so far.
func (f *fakeBackend) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeBackend) Devices() []Device {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.devices)
}

func (f *fakeBackend) setStatus(verb, id, from, to string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("%s %s", verb, id); err != nil {
		return err
	}
	for i := range f.devices {
		if f.devices[i].ClientID == id {
			if from != "" && f.devices[i].Status != from {
				return fmt.Errorf("device is %s, not %s", f.devices[i].Status, from)
			}
			f.devices[i].Status = to
			return nil
		}
	}
	return errors.New("no such device")
}

func (f *fakeBackend) ApproveDevice(id string) error {
	return f.setStatus("approve", id, "pending", "trusted")
}
func (f *fakeBackend) RefuseDevice(id string) error {
	return f.setStatus("refuse", id, "pending", "refused")
}
func (f *fakeBackend) UntrustDevice(id string) error {
	return f.setStatus("untrust", id, "trusted", "refused")
}

func (f *fakeBackend) Keys() []Key {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.keys)
}

func (f *fakeBackend) UpdateKey(name string, p KeyPatch) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("update-key %s", name); err != nil {
		return err
	}
	f.patches[name] = p
	for i := range f.keys {
		k := &f.keys[i]
		if k.Name != name {
			continue
		}
		if p.Active != nil {
			k.Active = *p.Active
		}
		if p.ExpiresAt != nil {
			k.ExpiresAt = *p.ExpiresAt
		}
		if p.AllowedIPs != nil {
			k.AllowedIPs = *p.AllowedIPs
		}
		if p.AllowUnauthenticated != nil {
			k.AllowUnauthenticated = *p.AllowUnauthenticated
		}
		if p.AllowUntrusted != nil {
			k.AllowUntrusted = *p.AllowUntrusted
		}
		if p.AutoTrust != nil {
			k.AutoTrust = *p.AutoTrust
		}
		if p.Permissions != nil {
			k.Permissions = *p.Permissions
		}
		return nil
	}
	return errors.New("no such key")
}

func (f *fakeBackend) Settings() Settings {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.settings
}

func (f *fakeBackend) UpdateSettings(s Settings) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("settings %s %s %s %s", s.AccessTokenTTL, s.RefreshTokenTTL, s.DeviceCodeTTL, s.RefreshGrace); err != nil {
		return err
	}
	f.settings = s
	return nil
}

func (f *fakeBackend) Users() []User {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.users)
}

func (f *fakeBackend) RevokeUser(u string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("revoke %s", u); err != nil {
		return err
	}
	for _, x := range f.users {
		if x.Username == u {
			return nil
		}
	}
	return errors.New("no such user")
}

func (f *fakeBackend) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeBackend) FakeClock() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fake
}

func (f *fakeBackend) AdvanceClock(d time.Duration) (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("advance %s", d); err != nil {
		return time.Time{}, err
	}
	if !f.fake {
		return time.Time{}, errors.New("real clock")
	}
	f.now = f.now.Add(d)
	return f.now, nil
}

// status returns a device's status, or "" when there is no such device.
func (f *fakeBackend) status(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range f.devices {
		if d.ClientID == id {
			return d.Status
		}
	}
	return ""
}

// joinCalls is for error messages.
func joinCalls(c []string) string { return "[" + strings.Join(c, "; ") + "]" }
