package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadMissingIsEmpty(t *testing.T) {
	c, err := Load(filepath.Join(t.TempDir(), "nope", FileName))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Profiles) != 0 || c.CurrentProfile() != DefaultProfile {
		t.Fatalf("got %+v", c)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "paragon", FileName)
	c, _ := Load(path)
	if err := c.SetProfile("prod", &Profile{Server: "https://p.example:7300", OAuthURL: "https://p.example:7400", Keystore: "keyring"}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetProfile("default", &Profile{Server: "http://127.0.0.1:7300"}); err != nil {
		t.Fatal(err)
	}
	c.Current = "prod"
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	d, _ := os.Stat(filepath.Dir(path))
	if d.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", d.Mode().Perm())
	}
	c2, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c2.Profiles, c.Profiles) || c2.CurrentProfile() != "prod" {
		t.Fatalf("round trip: %+v vs %+v", c2, c)
	}
	if got := c2.Names(); !reflect.DeepEqual(got, []string{"default", "prod"}) {
		t.Errorf("names %v", got)
	}
	if p, _ := c2.Profile("default"); p.OAuthBase() != "http://127.0.0.1:7300" {
		t.Errorf("OAuthBase defaults to server, got %q", p.OAuthBase())
	}
	if p, _ := c2.Profile("prod"); p.OAuthBase() != "https://p.example:7400" {
		t.Errorf("OAuthBase %q", p.OAuthBase())
	}
	c2.RemoveProfile("prod")
	if c2.CurrentProfile() != DefaultProfile {
		t.Errorf("removing the current profile must fall back to default")
	}
}

func TestLoadRejectsBadFile(t *testing.T) {
	for name, body := range map[string]string{
		"unknown field": "profiles:\n  default:\n    server: x\n    password: hunter2\n",
		"bad yaml":      "profiles: [\n",
		"bad name":      "profiles:\n  \"a b\":\n    server: x\n",
	} {
		path := filepath.Join(t.TempDir(), FileName)
		os.WriteFile(path, []byte(body), 0o600)
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err %v, want one naming the file", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error quotes the file's content", name)
		}
	}
}

func TestEmptyFileLoads(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	os.WriteFile(path, nil, 0o600)
	if _, err := Load(path); err != nil {
		t.Fatal(err)
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"default", "prod-2", "a.b_c"} {
		if ValidName(ok) != nil {
			t.Errorf("%q rejected", ok)
		}
	}
	for _, bad := range []string{"", ".hidden", "-x", "a/b", "a b", strings.Repeat("x", 65)} {
		if ValidName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDirUsesUserConfigDir(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", tmp)
	t.Setenv("HOME", tmp)
	p, err := DefaultPath()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p, tmp) || filepath.Base(p) != FileName {
		t.Errorf("path %q", p)
	}
}
