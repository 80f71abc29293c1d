package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// chain is one login's refresh-token chain as one client saw it.
type chain struct {
	user string
	// received holds every refresh token whose answer was read in full, in
	// order; the last one is the client's current token.
	received []string
	access   string // the latest access token received
	// inFlight is set when a refresh with the current token was sent but its
	// answer never arrived (the server died): the server may or may not have
	// rotated the token before dying.
	inFlight bool
}

// TestCrashKeepsAcknowledgedTokens is the persistence crash test: the real
// binary with --data (over HTTPS with --tls-self-signed) under a load of logins and refreshes from several
// clients is killed with SIGKILL, restarted on the same file, and then every
// refresh token a client received must still work (the latest of each
// chain), every one it had already used must still be spent, and the
// approved device must still be trusted.
func TestCrashKeepsAcknowledgedTokens(t *testing.T) {
	data := filepath.Join(t.TempDir(), "state.db")
	const admin = "crash-admin-token"
	args := []string{"--addr", "127.0.0.1:0", "--data", data, "--tls-self-signed", "--admin-token", admin, "--password-cost", "4"}
	srv := startServer(t, args...)
	h := newHTTPClient(srv.URL, admin)
	if err := h.trustCA(data + ".cert.pem"); err != nil {
		t.Fatal(err)
	}

	dev := newDevice("crash-device")
	devTok, err := h.trust(dev)
	if err != nil {
		t.Fatal(err)
	}
	pending := newDevice("crash-pending")
	if _, err := h.register(pending); err != nil {
		t.Fatal(err)
	}
	deviceToken := devTok.str("access_token")

	users := [][2]string{{"alice", "wonderland"}, {"bob", "builder"}, {"carol", "queen-of-hearts"}}
	const workers = 8
	const refreshesPerLogin = 3
	var (
		mu       sync.Mutex
		chains   []*chain
		inflight atomic.Int64
		done     atomic.Int64
		stop     atomic.Bool
		wg       sync.WaitGroup
		failures []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		mu.Unlock()
		stop.Store(true)
	}
	for w := range workers {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			u := users[w%len(users)]
			for !stop.Load() {
				inflight.Add(1)
				a, err := h.login(deviceToken, u[0], u[1])
				inflight.Add(-1)
				if err != nil {
					return // the server died: this login was in flight
				}
				if a.Status != 200 || a.str("refresh_token") == "" {
					fail("login %s: %d %v", u[0], a.Status, a.Body)
					return
				}
				done.Add(1)
				c := &chain{user: u[0], received: []string{a.str("refresh_token")}, access: a.str("access_token")}
				mu.Lock()
				chains = append(chains, c)
				mu.Unlock()
				for range refreshesPerLogin {
					if stop.Load() {
						return
					}
					mu.Lock()
					cur := c.received[len(c.received)-1]
					c.inFlight = true
					mu.Unlock()
					inflight.Add(1)
					a, err := h.refreshUser(cur)
					inflight.Add(-1)
					if err != nil {
						return // c.inFlight stays set
					}
					if a.Status != 200 || a.str("refresh_token") == "" {
						fail("refresh for %s: %d %v", u[0], a.Status, a.Body)
						return
					}
					done.Add(1)
					mu.Lock()
					c.received = append(c.received, a.str("refresh_token"))
					c.access = a.str("access_token")
					c.inFlight = false
					mu.Unlock()
				}
			}
		}(w)
	}

	// Kill once enough operations were acknowledged (bounded in time).
	deadline := time.Now().Add(8 * time.Second)
	for done.Load() < 1000 && time.Now().Before(deadline) && !stop.Load() {
		time.Sleep(5 * time.Millisecond)
	}
	inFlightAtKill := inflight.Load()
	srv.signal(t, os.Kill)
	stop.Store(true)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("errors under load before the kill: %v", failures)
	}
	acknowledged := done.Load()

	// Same file, same certificate: clients keep their CA file.
	srv2 := startServer(t, args...)
	h2 := newHTTPClient(srv2.URL, admin)
	if err := h2.trustCA(data + ".cert.pem"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(srv2.stdout.String(), "(self-signed, reused;") {
		t.Errorf("restart did not reuse the certificate:\n%s", srv2.stdout)
	}

	// Devices: the approved one is still trusted, the pending one pending,
	// and the device token still logs users in.
	a, err := h2.adminJSON("GET", "/admin/api/devices", "")
	if err != nil || a.Status != 200 {
		t.Fatalf("admin devices after restart: %v %v", a.Status, err)
	}
	status := map[string]string{}
	items, _ := a.Body["items"].([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		id, _ := m["client_id"].(string)
		st, _ := m["status"].(string)
		status[id] = st
	}
	if status[dev.id] != "trusted" || status[pending.id] != "pending" {
		t.Errorf("devices after restart: %v", status)
	}

	var verifiedLatest, verifiedSpent, verifiedAccess, ambiguousKept, ambiguousRotated int
	inFlightChains := 0
	for _, c := range chains {
		cur := c.received[len(c.received)-1]
		if c.inFlight {
			inFlightChains++
			// The server may have rotated cur before dying: then cur is
			// spent (invalid_grant); otherwise it still works.
			a, err := h2.refreshUser(cur)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case a.Status == 200:
				ambiguousKept++
			case a.Status == 400 && a.str("error") == "invalid_grant":
				ambiguousRotated++
			default:
				t.Errorf("in-flight chain of %s: %d %v", c.user, a.Status, a.Body)
			}
			continue
		}
		// The latest access token still works.
		if a, err := h2.call("/api/v1/version", c.access); err != nil || a.Status != 200 {
			t.Errorf("access token of %s after restart: %d %v %v", c.user, a.Status, a.Body, err)
		} else {
			verifiedAccess++
		}
		// The latest refresh token is accepted once.
		a, err := h2.refreshUser(cur)
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != 200 {
			t.Errorf("received refresh token of %s (chain of %d) refused after restart: %d %v", c.user, len(c.received), a.Status, a.Body)
			continue
		}
		verifiedLatest++
		// A token the client had already used is still spent: presenting
		// it is refused and revokes the family, new token included.
		if len(c.received) >= 2 {
			old := c.received[len(c.received)-2]
			b, err := h2.refreshUser(old)
			if err != nil {
				t.Fatal(err)
			}
			if b.Status != 400 || b.str("error") != "invalid_grant" {
				t.Errorf("spent refresh token of %s accepted after restart: %d %v", c.user, b.Status, b.Body)
				continue
			}
			r, err := h2.refreshUser(a.str("refresh_token"))
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != 400 {
				t.Errorf("family of %s not revoked after reuse: %d %v", c.user, r.Status, r.Body)
				continue
			}
			verifiedSpent++
		}
	}
	t.Logf("killed with SIGKILL after %d acknowledged operations (%d logins' chains); %d requests in flight at the kill",
		acknowledged, len(chains), inFlightAtKill)
	t.Logf("after restart: %d latest refresh tokens accepted, %d access tokens accepted, %d spent tokens still spent; "+
		"%d chains had a refresh in flight (%d not yet rotated, %d rotated before the crash)",
		verifiedLatest, verifiedAccess, verifiedSpent, inFlightChains, ambiguousKept, ambiguousRotated)
	if verifiedLatest == 0 {
		t.Error("no chain was verified")
	}

	// A new device token request after restart works for the approved device.
	if a, err := h2.login(deviceToken, "alice", "wonderland"); err != nil || a.Status != 200 {
		t.Errorf("login with the device token after restart: %v %v", a.Status, err)
	}
}
