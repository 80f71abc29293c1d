package e2e

import (
	"fmt"
	"math/rand/v2"
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

// TestCrashUnderConcurrentRefreshes kills `paragon server --data` with
// SIGKILL ten times, each at a random moment while 8 clients refresh their
// tokens (back to back or with short pauses; their changes go to the file
// in shared commits), and restarts it on the same file each time. After each
// restart, every client's latest refresh token whose answer it received
// still works, and the one before it is refused. A client whose last
// refresh got no answer may find its token rotated or not, but the token
// before that one is refused either way.
func TestCrashUnderConcurrentRefreshes(t *testing.T) {
	crashUnderConcurrentRefreshes(t)
}

// TestCrashDuringCheckpoints is TestCrashUnderConcurrentRefreshes with a
// write-ahead log of 2 KiB (a handful of commits), so that checkpoints (the
// log written into the state file in the background) run all the time and
// the kills fall before, during and after them.
func TestCrashDuringCheckpoints(t *testing.T) {
	crashUnderConcurrentRefreshes(t, "--data-checkpoint-bytes", "2048")
}

func crashUnderConcurrentRefreshes(t *testing.T, extra ...string) {
	data := filepath.Join(t.TempDir(), "state.db")
	const admin = "crash-admin-token"
	args := append([]string{"--addr", "127.0.0.1:0", "--data", data, "--admin-token", admin, "--password-cost", "4"}, extra...)
	const clients = 8
	const rounds = 10
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("random seed %d", seed)

	srv := startServer(t, args...)
	h := newHTTPClient(srv.URL, admin)
	devTok, err := h.trust(newDevice("crash-concurrent"))
	if err != nil {
		t.Fatal(err)
	}
	deviceToken := devTok.str("access_token")
	users := [][2]string{{"alice", "wonderland"}, {"bob", "builder"}, {"carol", "queen-of-hearts"}}

	var acknowledged, unanswered, rotatedUnanswered, inCheckpoint int
	for round := range rounds {
		// Each client logs in, then refreshes until the server dies.
		chains := make([]*chain, clients)
		for i := range chains {
			u := users[i%len(users)]
			a, err := h.login(deviceToken, u[0], u[1])
			if err != nil || a.Status != 200 {
				t.Fatalf("round %d: login %s: %v %v", round, u[0], a.Status, err)
			}
			chains[i] = &chain{user: u[0], received: []string{a.str("refresh_token")}}
		}
		var wg sync.WaitGroup
		var refreshes atomic.Int64
		var stop atomic.Bool // set just before the kill: no new refreshes
		errs := make(chan string, clients)
		for _, c := range chains {
			wg.Add(1)
			pause := rng.IntN(20)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					c.inFlight = true
					a, err := h.refreshUser(c.received[len(c.received)-1])
					if err != nil {
						return // the server died; c.inFlight stays set
					}
					if a.Status != 200 || a.str("refresh_token") == "" {
						errs <- fmt.Sprintf("refresh for %s: %d %v", c.user, a.Status, a.Body)
						return
					}
					c.received = append(c.received, a.str("refresh_token"))
					c.inFlight = false
					refreshes.Add(1)
					// A short pause now and then, so that some clients
					// have no refresh in flight when the server dies.
					time.Sleep(time.Duration(pause) * time.Millisecond)
				}
			}()
		}
		// A random moment once the clients are under way.
		for refreshes.Load() < clients {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		stop.Store(true)
		srv.signal(t, os.Kill)
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatalf("round %d: error under load before the kill: %s", round, e)
		}
		if _, err := os.Stat(data + "-wal-old"); err == nil {
			inCheckpoint++ // killed while a checkpoint was under way
		}

		srv = startServer(t, args...)
		h = newHTTPClient(srv.URL, admin)
		for i, c := range chains {
			latest := c.received[len(c.received)-1]
			a, err := h.refreshUser(latest)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case a.Status == 200:
				if c.inFlight {
					unanswered++
				} else {
					acknowledged++
				}
			case c.inFlight && a.Status == 400 && a.str("error") == "invalid_grant":
				// Rotated and stored, but the answer never arrived.
				unanswered++
				rotatedUnanswered++
			default:
				t.Errorf("round %d client %d: received refresh token %d of %s refused after the restart: %d %v",
					round, i, len(c.received)-1, c.user, a.Status, a.Body)
			}
			if len(c.received) < 2 {
				continue
			}
			b, err := h.refreshUser(c.received[len(c.received)-2])
			if err != nil {
				t.Fatal(err)
			}
			if b.Status != 400 || b.str("error") != "invalid_grant" {
				t.Errorf("round %d client %d: the refresh token before the latest of %s was accepted after the restart: %d %v",
					round, i, c.user, b.Status, b.Body)
			}
		}
	}
	t.Logf("%d kills (%d during a checkpoint): %d latest refresh tokens whose answer arrived worked after the restart; "+
		"%d chains had a refresh without an answer (%d of them rotated before the kill)",
		rounds, inCheckpoint, acknowledged, unanswered, rotatedUnanswered)
	if acknowledged == 0 {
		t.Error("no chain was checked")
	}
}

// TestDamagedLogIsRefused: after a kill, a write-ahead log whose first entry
// is damaged while later ones are intact keeps the server from starting,
// with an error that says what is wrong and what to do, and the log is left
// as it was; doing what it says (moving the log away) starts the server on
// the state file's last checkpoint.
func TestDamagedLogIsRefused(t *testing.T) {
	data := filepath.Join(t.TempDir(), "state.db")
	const admin = "damage-admin-token"
	args := []string{"--addr", "127.0.0.1:0", "--data", data, "--admin-token", admin, "--password-cost", "4"}
	srv := startServer(t, args...)
	h := newHTTPClient(srv.URL, admin)
	if _, err := h.trust(newDevice("damage-device")); err != nil { // several commits
		t.Fatal(err)
	}
	srv.signal(t, os.Kill)

	log, err := os.ReadFile(data + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	const firstPayload = 28 + 16 // the log's header, the first entry's frame
	log[firstPayload+1] ^= 0x20
	if err := os.WriteFile(data+"-wal", log, 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runParagon(t, append([]string{"server"}, args...)...)
	if code == 0 || !strings.Contains(stderr, "unusable paragon state file") || !strings.Contains(stderr, data+"-wal") ||
		!strings.Contains(stderr, "is damaged") || !strings.Contains(stderr, "move the log away") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if after, err := os.ReadFile(data + "-wal"); err != nil || string(after) != string(log) {
		t.Fatalf("the damaged log was changed (%v)", err)
	}
	if err := os.Rename(data+"-wal", data+"-wal.damaged"); err != nil {
		t.Fatal(err)
	}
	srv = startServer(t, args...)
	srv.signal(t, os.Interrupt)
}
