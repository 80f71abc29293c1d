package server

import (
	"strings"
	"testing"
	"time"

	"github.com/paragon-cli/paragon/server/adminweb"
)

// TestWebBackend checks the admin page's view of the server.
func TestWebBackend(t *testing.T) {
	s := newTestServer(t)
	b := webBackend{s}
	if !b.CheckAdminToken("admin-secret") || b.CheckAdminToken("admin-secreT") || b.CheckAdminToken("") {
		t.Fatal("CheckAdminToken")
	}
	d := newTestDevice("web")
	code := d.register(t, s)
	devs := b.Devices()
	if len(devs) != 1 || devs[0].ClientID != "web" || devs[0].Status != "pending" || devs[0].ClientType != "desktop_client" {
		t.Fatalf("devices %+v", devs)
	}
	if err := b.ApproveDevice("web"); err != nil {
		t.Fatal(err)
	}
	if r := d.poll(t, s, code); r.Code != 200 {
		t.Fatalf("poll after web approval: %d %s", r.Code, r.Body)
	}
	if err := b.RefuseDevice("nope"); err == nil {
		t.Error("refusing an unknown device")
	}
	if err := b.UntrustDevice("web"); err != nil || len(b.Devices()) != 0 {
		t.Fatalf("untrust: %v %v", err, b.Devices())
	}

	on, exp := true, time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	ips := []string{"127.0.0.1/32"}
	if err := b.UpdateKey("default", adminweb.KeyPatch{AllowUntrusted: &on, ExpiresAt: &exp, AllowedIPs: &ips}); err != nil {
		t.Fatal(err)
	}
	k := b.Keys()[0]
	if !k.AllowUntrusted || !k.ExpiresAt.Equal(exp) || strings.Join(k.AllowedIPs, ",") != "127.0.0.1/32" || k.AutoTrust {
		t.Fatalf("key %+v", k)
	}
	never := time.Time{}
	if err := b.UpdateKey("default", adminweb.KeyPatch{ExpiresAt: &never}); err != nil || !b.Keys()[0].ExpiresAt.IsZero() {
		t.Fatalf("never expires: %v %+v", err, b.Keys()[0])
	}
	none := []string{}
	if err := b.UpdateKey("default", adminweb.KeyPatch{AllowedIPs: &none}); err != nil {
		t.Fatal(err)
	}
	bad := []string{"not-an-ip"}
	if err := b.UpdateKey("default", adminweb.KeyPatch{AllowedIPs: &bad}); err == nil {
		t.Error("bad IP accepted")
	}

	set := b.Settings()
	set.AccessTokenTTL = 5 * time.Minute
	if err := b.UpdateSettings(set); err != nil || b.Settings().AccessTokenTTL != 5*time.Minute {
		t.Fatalf("settings: %v %+v", err, b.Settings())
	}
	set.AccessTokenTTL = 0
	if err := b.UpdateSettings(set); err == nil {
		t.Error("zero lifetime accepted")
	}

	users := b.Users()
	if len(users) != 3 || users[2].Username != "carol" || !users[2].Admin {
		t.Fatalf("users %+v", users)
	}
	at, _ := userToken(t, s, "", "alice", "wonderland")
	if err := b.RevokeUser("alice"); err != nil {
		t.Fatal(err)
	}
	if r := call(t, s, "GET", "/api/v1/version", at); r.Code != 401 {
		t.Fatalf("revoked token: %d", r.Code)
	}

	if !b.FakeClock() {
		t.Fatal("FakeClock")
	}
	before := b.Now()
	now, err := b.AdvanceClock(time.Hour)
	if err != nil || !now.Equal(before.Add(time.Hour)) || !b.Now().Equal(now) {
		t.Fatalf("advance: %v %v %v", now, before, err)
	}
	if _, err := b.AdvanceClock(-time.Second); err == nil {
		t.Error("negative advance accepted")
	}
	// The page itself is served (sign-in form) on /admin.
	if r := do(t, s, req{method: "GET", path: "/admin/"}); r.Code >= 400 {
		t.Fatalf("/admin/: %d", r.Code)
	}
}
