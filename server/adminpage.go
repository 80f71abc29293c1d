package server

import (
	"net/http"
	"time"

	"github.com/paragon-cli/paragon/server/adminweb"
)

// newAdminPage mounts the administrator web page on the server's state.
func (s *Server) newAdminPage() http.Handler {
	return adminweb.New(webBackend{s}, s.adminGuard)
}

// webBackend adapts Server to adminweb.Backend.
type webBackend struct{ s *Server }

var _ adminweb.Backend = webBackend{}

func (b webBackend) CheckAdminToken(tok string) bool { return b.s.checkAdminToken(tok) }

func (b webBackend) Devices() []adminweb.Device {
	var out []adminweb.Device
	for _, d := range b.s.devices() {
		out = append(out, adminweb.Device{ClientID: d.ClientID, ClientType: d.ClientType, Description: d.Description, Status: d.Status, RegisteredAt: d.RegisteredAt})
	}
	return out
}

func (b webBackend) ApproveDevice(id string) error { return b.s.setDeviceStatus(id, statusTrusted) }
func (b webBackend) RefuseDevice(id string) error  { return b.s.setDeviceStatus(id, statusRefused) }
func (b webBackend) UntrustDevice(id string) error { return b.s.untrustDevice(id) }

func (b webBackend) Keys() []adminweb.Key {
	var out []adminweb.Key
	for _, k := range b.s.keys() {
		ak, err := newAPIKey(k)
		if err != nil {
			continue
		}
		out = append(out, adminweb.Key{Name: k.Name, Type: k.Type, Active: k.Active, ExpiresAt: ak.expires,
			AllowedIPs: k.AllowedIPs, AllowUnauthenticated: k.AllowUnauthenticated, AllowUntrusted: k.AllowUntrusted,
			AutoTrust: k.AutoTrust, Permissions: k.Permissions})
	}
	return out
}

func (b webBackend) UpdateKey(name string, p adminweb.KeyPatch) error {
	kp := keyPatchJSON{Active: p.Active, AllowedIPs: p.AllowedIPs, AllowUnauthenticated: p.AllowUnauthenticated,
		AllowUntrusted: p.AllowUntrusted, AutoTrust: p.AutoTrust, Permissions: p.Permissions}
	if p.ExpiresAt != nil {
		v := ""
		if !p.ExpiresAt.IsZero() {
			v = p.ExpiresAt.UTC().Format(time.RFC3339)
		}
		kp.ExpiresAt = &v
	}
	_, err := b.s.patchKey(name, kp)
	return err
}

func (b webBackend) Settings() adminweb.Settings {
	set := b.s.settings()
	return adminweb.Settings{AccessTokenTTL: set.AccessTokenTTL, RefreshTokenTTL: set.RefreshTokenTTL, DeviceCodeTTL: set.DeviceCodeTTL, RefreshGrace: set.RefreshGrace}
}

func (b webBackend) UpdateSettings(set adminweb.Settings) error {
	_, err := b.s.patchSettings(settingsToJSON(Settings{AccessTokenTTL: set.AccessTokenTTL, RefreshTokenTTL: set.RefreshTokenTTL, DeviceCodeTTL: set.DeviceCodeTTL, RefreshGrace: set.RefreshGrace}))
	return err
}

func (b webBackend) Users() []adminweb.User {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	var out []adminweb.User
	for _, u := range b.s.sortedUsersLocked() {
		out = append(out, adminweb.User{Username: u.Username, FullName: u.FullName, Email: u.Email, Admin: u.Admin})
	}
	return out
}

func (b webBackend) RevokeUser(name string) error {
	_, err := b.s.revokeUser(name)
	return err
}

func (b webBackend) Now() time.Time  { return b.s.Now() }
func (b webBackend) FakeClock() bool { return b.s.fake }

func (b webBackend) AdvanceClock(d time.Duration) (time.Time, error) {
	if d < 0 {
		return time.Time{}, errNegativeAdvance
	}
	return b.s.advanceClock(d)
}
