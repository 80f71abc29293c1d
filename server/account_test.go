package server

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const exampleAccount = `account:
  access_token_ttl: 1h        # Go durations
  refresh_token_ttl: 2160h
  device_code_ttl: 72h
  refresh_grace: 0s           # how long a just-rotated refresh token still works
keys:
  - name: default
    value: paragon-dev-key
    type: general             # general | embedded | chrome | edge
    active: true
    expires_at: ""            # RFC 3339, empty = never
    allowed_ips: []           # CIDRs, empty = any
    allow_unauthenticated: false
    allow_untrusted: false
    auto_trust: false
    permissions: []           # function names, empty = all
users:
  - username: alice
    password: wonderland
    full_name: Alice Liddell
    email: alice@example.com
    card_id: "CARD-0001"
    short_id: "1001"
    admin: false
`

func TestParseAccountExample(t *testing.T) {
	a, err := ParseAccount([]byte(exampleAccount))
	if err != nil {
		t.Fatal(err)
	}
	demo := DemoAccount()
	if !reflect.DeepEqual(a.Settings, demo.Settings) {
		t.Errorf("settings %+v, demo %+v", a.Settings, demo.Settings)
	}
	if !reflect.DeepEqual(a.Keys, demo.Keys) {
		t.Errorf("keys %+v, demo %+v", a.Keys, demo.Keys)
	}
	if !reflect.DeepEqual(a.Users[0], demo.Users[0]) {
		t.Errorf("alice %+v, demo %+v", a.Users[0], demo.Users[0])
	}
}

func TestDemoAccount(t *testing.T) {
	d := DemoAccount()
	want := map[string][5]string{
		"alice": {"wonderland", "CARD-0001", "1001", "alice@example.com", "false"},
		"bob":   {"builder", "CARD-0002", "1002", "bob@example.com", "false"},
		"carol": {"queen-of-hearts", "CARD-0003", "1003", "carol@example.com", "true"},
	}
	if len(d.Users) != 3 {
		t.Fatalf("%d users", len(d.Users))
	}
	for _, u := range d.Users {
		w := want[u.Username]
		admin := "false"
		if u.Admin {
			admin = "true"
		}
		if got := [5]string{u.Password, u.CardID, u.ShortID, u.Email, admin}; got != w {
			t.Errorf("%s: %v, want %v", u.Username, got, w)
		}
	}
	if len(d.Keys) != 1 || d.Keys[0].Value != "paragon-dev-key" || d.Keys[0].AllowUntrusted || d.Keys[0].AutoTrust || d.Keys[0].AllowUnauthenticated {
		t.Errorf("keys %+v", d.Keys)
	}
	// A fresh copy each time.
	d.Users[0].Password = "x"
	if DemoAccount().Users[0].Password != "wonderland" {
		t.Error("DemoAccount shares state")
	}
}

func TestParseAccountErrorsNameTheLine(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown field", "account:\n  access_token_ttl: 1h\n  colour: red\n", "line 3"},
		{"bad duration", "account:\n  access_token_ttl: 1h\n  refresh_token_ttl: soon\n", "line 3"},
		{"duplicate key", "keys:\n  - name: a\n    value: v1\n  - name: a\n    value: v2\n", "line 4"},
		{"duplicate user", "users:\n  - username: x\n  - username: y\n  - username: x\n", "line 4"},
		{"bad cidr", "keys:\n  - name: a\n    value: v\n    allowed_ips: [nonsense]\n", "line 2"},
		{"bad permission", "keys:\n  - name: a\n    value: v\n    permissions: [print]\n", "line 2"},
		{"bad type", "keys:\n  - name: a\n    value: v\n    type: phone\n", "line 2"},
		{"bad expiry", "keys:\n  - name: a\n    value: v\n    expires_at: tomorrow\n", "line 2"},
		{"negative ttl", "account:\n  access_token_ttl: -1h\n", "line 2"},
		{"duration as a number", "account:\n  access_token_ttl: 3600\n", "line 2"},
		{"unknown user field", "users:\n  - username: x\n    pin: 1\n", "line 3"},
		// §6: each lifetime is at most 100 years; the error names the field.
		{"lifetime over 100 years", "account:\n  refresh_token_ttl: 876001h\n", "refresh_token_ttl must be at most"},
		{"grace over 100 years", "account:\n  refresh_grace: 876001h\n", "refresh_grace must be at most"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseAccount([]byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want it to name %q", err, c.want)
			}
		})
	}
	if _, err := ParseAccount(nil); err == nil {
		t.Error("empty file accepted")
	}
}

func TestParseAccountDefaults(t *testing.T) {
	a, err := ParseAccount([]byte("account:\n  access_token_ttl: 5m\nkeys:\n  - name: k\n    value: v\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Settings.AccessTokenTTL != 5*time.Minute || a.Settings.RefreshTokenTTL != 2160*time.Hour || a.Keys[0].Type != "general" || !a.Keys[0].Active {
		t.Errorf("%+v %+v", a.Settings, a.Keys[0])
	}
}

func TestLoadAccountFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "acct.yaml")
	if err := os.WriteFile(p, []byte(exampleAccount), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := LoadAccountFile(p)
	if err != nil || len(a.Users) != 1 {
		t.Fatal(a, err)
	}
	if _, err := LoadAccountFile(p + ".missing"); err == nil {
		t.Error("missing file accepted")
	}
}

func TestParseAccountInactiveKey(t *testing.T) {
	a, err := ParseAccount([]byte("keys:\n  - name: k\n    value: v\n    active: false\n"))
	if err != nil || a.Keys[0].Active {
		t.Fatalf("%+v %v", a, err)
	}
}
