package early

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"
)

// A config file as paragon writes it.
const config = `current_profile: work
profiles:
    default:
        server: http://127.0.0.1:7300
        keystore: keyring
        device_type: desktop_client
    files:
        server: http://127.0.0.1:7300
        keystore: file
        keystore_fallback: true
    new:
        server: http://127.0.0.1:7300
    work:
        server: https://paragon.example.com
        oauth_url: https://auth.example.com
        keystore: keyring
`

func TestGuess(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, c := range []struct {
		name    string
		args    []string
		env     func(string) string
		config  string
		profile string // "" means no early read
	}{
		{"api, current profile", []string{"api", "version"}, env(), config, "work"},
		{"token", []string{"token"}, env(), config, "work"},
		{"other command", []string{"status"}, env(), config, ""},
		{"no command", nil, env(), config, ""},
		{"flag before the command", []string{"--profile", "default", "api", "version"}, env(), config, ""},
		{"--profile NAME", []string{"api", "--profile", "default", "version"}, env(), config, "default"},
		{"--profile=NAME", []string{"api", "version", "--profile=default"}, env(), config, "default"},
		{"PARAGON_PROFILE", []string{"api", "version"}, env("PARAGON_PROFILE", "default"), config, "default"},
		{"flag over environment", []string{"api", "--profile", "work", "x"}, env("PARAGON_PROFILE", "default"), config, "work"},
		{"secrets in a file", []string{"api", "--profile", "files", "version"}, env(), config, ""},
		{"no store recorded", []string{"api", "--profile", "new", "version"}, env(), config, "new"},
		{"no store recorded, PARAGON_KEYSTORE=file", []string{"api", "--profile", "new", "version"}, env("PARAGON_KEYSTORE", "file"), config, ""},
		{"no store recorded, PARAGON_KEYSTORE=keyring", []string{"api", "--profile", "new", "version"}, env("PARAGON_KEYSTORE", "keyring"), config, "new"},
		{"--keystore", []string{"api", "--keystore", "keyring", "version"}, env(), config, ""},
		{"--keystore=file", []string{"api", "--keystore=file", "version"}, env(), config, ""},
		{"--insecure-storage", []string{"token", "--insecure-storage"}, env(), config, ""},
		{"--help", []string{"api", "--help"}, env(), config, ""},
		{"flags after -- are arguments", []string{"api", "--", "--keystore"}, env(), config, "work"},
		{"unknown profile", []string{"api", "--profile", "nope", "version"}, env(), config, ""},
		{"no config file", []string{"api", "version"}, env(), "", ""},
		{"no current profile: default", []string{"api", "version"}, env(), config[len("current_profile: work\n"):], "default"},
	} {
		p, ok := Guess(c.args, c.env, []byte(c.config))
		if ok != (c.profile != "") || p != c.profile {
			t.Errorf("%s: Guess = %q, %v; want %q", c.name, p, ok, c.profile)
		}
	}
}

// reset forgets any read (init starts none in a test binary: its
// arguments are not api or token).
func reset() {
	read.mu.Lock()
	read.done, read.profile, read.vals, read.err = nil, "", nil, nil
	read.mu.Unlock()
}

func TestTake(t *testing.T) {
	t.Cleanup(reset)
	want := map[string]string{"api-key": "k", "user-refresh-token": "r"}

	reset()
	if _, ok, err := Take("work", Items, time.Second); ok || err != nil {
		t.Errorf("Take without a read: %v, %v", ok, err)
	}

	start("work", func() (map[string]string, error) { return want, nil })
	if _, ok, err := Take("other", Items, time.Second); ok || err != nil {
		t.Errorf("Take for another profile: %v, %v", ok, err)
	}
	start("work", func() (map[string]string, error) { return want, nil })
	if _, ok, err := Take("work", Items[:1], time.Second); ok || err != nil {
		t.Errorf("Take for other items: %v, %v", ok, err)
	}
	start("work", func() (map[string]string, error) { return want, nil })
	if vals, ok, err := Take("work", Items, time.Second); !ok || err != nil || !maps.Equal(vals, want) {
		t.Errorf("Take = %v, %v, %v; want the read's values", vals, ok, err)
	}
	if _, ok, err := Take("work", Items, time.Second); ok || err != nil {
		t.Errorf("a second Take: %v, %v; want nothing (one caller only)", ok, err)
	}

	start("work", func() (map[string]string, error) { return nil, errors.New("locked") })
	if _, ok, err := Take("work", Items, time.Second); ok || err != nil {
		t.Errorf("Take of a failed read: %v, %v; want nothing, so that the caller reads", ok, err)
	}

	hold := make(chan struct{})
	defer close(hold)
	start("work", func() (map[string]string, error) { <-hold; return want, nil })
	if _, ok, err := Take("work", Items, 20*time.Millisecond); ok || !errors.Is(err, ErrTimeout) {
		t.Errorf("Take of a read still running: %v, %v; want ErrTimeout", ok, err)
	}
}

// Guess reads a file anyone may have edited by hand: any content is a
// guess or no guess, never a panic, and a guess names a profile the
// config lists.
func FuzzGuess(f *testing.F) {
	f.Add("api --profile default", config)
	f.Add("token", "current_profile: x\nprofiles:\n    x:\n        keystore: keyring\n")
	f.Add("api version", "profiles:\n  default:\n    keystore: file\n")
	f.Add("api --profile=", "profiles:\n    :\n")
	f.Fuzz(func(t *testing.T, args, cfg string) {
		p, ok := Guess(strings.Fields(args), func(string) string { return "" }, []byte(cfg))
		if ok {
			if _, listed := scanConfigStores(cfg)[p]; !listed {
				t.Errorf("Guess(%q) = %q, a profile the config does not list", args, p)
			}
		}
	})
}

func scanConfigStores(cfg string) map[string]string {
	_, stores := scanConfig([]byte(cfg))
	return stores
}
