// Package early starts the OS keyring read of `paragon api` and `paragon
// token` while the rest of the program initializes.
//
// Those commands spend most of their time waiting: first on package
// initialization (milliseconds, for every linked package), then on the
// Secret Service (two round trips through the bus and the keyring daemon).
// This package is initialized before most others (Go initializes packages
// in import-path order where dependencies allow, and this one depends only
// on the standard library and keystore/ssfast, which needs godbus), and
// its init, when the command line names api or token, guesses the profile
// and starts reading its secrets on a goroutine. keystore.Open then takes
// the result instead of reading (Options.Early); when the guess was wrong
// or the read failed, it reads as it always does. The guess is
// conservative: no speculation with --keystore, --insecure-storage or --help, for a
// profile whose secrets are in a file, or without a session bus.
package early

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/paragon-cli/paragon/keystore/ssfast"
)

// Items are the items a session reads first (cmdutil's hotItems: the API
// key and the user's tokens).
var Items = []string{"api-key", "user-access-token", "user-refresh-token"}

// read is the read started by init, if any.
var read struct {
	mu      sync.Mutex
	profile string
	done    chan struct{}
	vals    map[string]string
	err     error
}

func init() {
	if len(os.Args) < 2 || (os.Args[1] != "api" && os.Args[1] != "token") {
		return // before reading anything: every other command starts here too
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "paragon", "config.yml"))
	profile, ok := Guess(os.Args[1:], os.Getenv, cfg)
	if !ok {
		return
	}
	if _, ok := ssfast.BusSocket(os.Getenv); !ok {
		return
	}
	start(profile, func() (map[string]string, error) {
		vals, locked, err := ssfast.Read("paragon:"+profile, Items, true)
		if err == nil && len(locked) > 0 {
			err = errors.New("an item exists only locked")
		}
		return vals, err
	})
}

// start runs f for profile on a goroutine.
func start(profile string, f func() (map[string]string, error)) {
	done := make(chan struct{})
	read.mu.Lock()
	read.profile, read.done = profile, done
	read.mu.Unlock()
	go func() {
		vals, err := f()
		read.mu.Lock()
		read.vals, read.err = vals, err
		read.mu.Unlock()
		close(done)
	}()
}

// ErrTimeout is Take's error when the early read did not finish in time.
var ErrTimeout = errors.New("the early keyring read did not finish in time")

// Take returns what the early read got, when it read items of profile:
// ok is false when there was no such read or it failed (the caller then
// reads itself), and err is ErrTimeout when it was still running after
// timeout. It serves one caller.
func Take(profile string, items []string, timeout time.Duration) (vals map[string]string, ok bool, err error) {
	read.mu.Lock()
	done, p := read.done, read.profile
	read.done = nil
	read.mu.Unlock()
	if done == nil || p != profile || !slices.Equal(items, Items) {
		return nil, false, nil
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		return nil, false, ErrTimeout
	}
	read.mu.Lock()
	defer read.mu.Unlock()
	if read.err != nil {
		return nil, false, nil
	}
	return read.vals, true, nil
}

// Guess returns the profile whose keyring secrets a command line (the
// arguments after the program's name) will read first, from its flags, the
// environment and the config file's content (as paragon writes it), and
// whether it is worth reading them early: the command is api or token, the
// profile exists and its secrets are (or may be) in the OS keyring.
func Guess(args []string, getenv func(string) string, config []byte) (string, bool) {
	if len(args) == 0 || (args[0] != "api" && args[0] != "token") {
		return "", false
	}
	profile := ""
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			i = len(args)
		case a == "--keystore" || strings.HasPrefix(a, "--keystore=") || strings.HasPrefix(a, "--insecure-storage") || a == "-h" || a == "--help":
			return "", false
		case a == "--profile" && i+1 < len(args):
			profile = args[i+1]
			i++
		case strings.HasPrefix(a, "--profile="):
			profile = strings.TrimPrefix(a, "--profile=")
		}
	}
	current, stores := scanConfig(config)
	switch {
	case profile != "":
	case getenv("PARAGON_PROFILE") != "":
		profile = getenv("PARAGON_PROFILE")
	case current != "":
		profile = current
	default:
		profile = "default"
	}
	store, ok := stores[profile]
	if !ok {
		return "", false
	}
	if store == "" {
		store = getenv("PARAGON_KEYSTORE")
	}
	switch store {
	case "", "auto", "keyring":
		return profile, true
	}
	return "", false
}

// scanConfig reads the current profile and each profile's keystore from a
// config file as paragon writes it (yaml.v3: "current_profile: NAME", then
// "profiles:" with each name indented by four spaces and its fields by
// eight). Anything it does not recognise is left out, which only means no
// early read.
func scanConfig(b []byte) (current string, stores map[string]string) {
	stores = map[string]string{}
	inProfiles := false
	profile := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "current_profile: "):
			current = strings.TrimSpace(strings.TrimPrefix(line, "current_profile: "))
			inProfiles = false
		case line == "profiles:":
			inProfiles = true
		case !strings.HasPrefix(line, " "):
			inProfiles = false
		case inProfiles && strings.HasPrefix(line, "    ") && !strings.HasPrefix(line, "     ") && strings.HasSuffix(line, ":"):
			profile = strings.TrimSuffix(strings.TrimSpace(line), ":")
			stores[profile] = ""
		case inProfiles && profile != "" && strings.HasPrefix(line, "        keystore: "):
			stores[profile] = strings.TrimSpace(strings.TrimPrefix(line, "        keystore: "))
		}
	}
	return current, stores
}
