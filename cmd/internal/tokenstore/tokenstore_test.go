package tokenstore

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paragon-cli/paragon/client"
	"github.com/paragon-cli/paragon/keystore"
)

func TestLoadSaveRoundTrip(t *testing.T) {
	s := keystore.NewMemory()
	h := Store{Keys: s, Profile: "p", Kind: keystore.DeviceTokens, LockDir: t.TempDir()}
	if tok, err := h.Load(); tok != nil || err != nil {
		t.Fatalf("empty store: %v, %v; want nil, nil", tok, err)
	}
	exp := time.Date(2026, 11, 26, 19, 0, 0, 0, time.UTC)
	if err := h.Save(&client.Token{AccessToken: "d-at", RefreshToken: "d-rt", Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get("p", keystore.ItemDeviceRefreshToken); v != "d-rt" {
		t.Errorf("device refresh token stored as %q", v)
	}
	tok, err := h.Load()
	if err != nil || tok.AccessToken != "d-at" || tok.RefreshToken != "d-rt" || !tok.Expiry.Equal(exp) {
		t.Fatalf("Load = %+v, %v", tok, err)
	}
	if _, err := (Store{Keys: s, Profile: "p", Kind: keystore.UserTokens}).Load(); err != nil {
		t.Errorf("user kind: %v", err)
	}
	if err := h.Save(nil); err == nil {
		t.Error("nil token persisted")
	}
}

func TestLockHookExcludesAndHonoursContext(t *testing.T) {
	h := Store{Keys: keystore.NewMemory(), Profile: "p", LockDir: t.TempDir()}
	unlock, err := h.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := h.Lock(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Lock while held: %v, want DeadlineExceeded", err)
	}
	unlock()
	unlock2, err := h.Lock(context.Background())
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlock2()

	// A LockFunc replaces the file lock.
	var asked string
	h.LockFunc = func(ctx context.Context, profile string) (func() error, error) {
		asked = profile
		return func() error { return nil }, nil
	}
	u, err := h.Lock(context.Background())
	if err != nil || asked != "p" {
		t.Fatalf("LockFunc not used: %q, %v", asked, err)
	}
	u()
	h.LockFunc = func(context.Context, string) (func() error, error) { return nil, errors.New("no lock for you") }
	if _, err := h.Lock(context.Background()); err == nil {
		t.Error("LockFunc error dropped")
	}
}

// seedExpired stores an access token that expired an hour ago and the live
// refresh token rt-0.
func seedExpired(t *testing.T, s keystore.Store) {
	t.Helper()
	err := keystore.SaveTokens(s, "p", keystore.UserTokens,
		keystore.Tokens{AccessToken: "at-0", Expiry: time.Now().Add(-time.Hour), RefreshToken: "rt-0"})
	if err != nil {
		t.Fatal(err)
	}
}

// uncoordinated is the control's store: it saves, but neither locks nor
// re-reads what another process stored.
type uncoordinated struct{ Store }

func (uncoordinated) Lock(context.Context) (func(), error) { return func() {}, nil }
func (uncoordinated) Load() (*client.Token, error)         { return nil, nil }

// newSession builds what a paragon process builds: a client, a user token
// source over the store (with or without the cross-process coordination)
// and a session.
func newSession(t *testing.T, baseURL string, h Store, coordinated bool) *client.Session {
	t.Helper()
	c, err := client.New(client.Config{BaseURL: baseURL, APIKey: testAPIKey})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := h.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg := client.SourceConfig{Token: tok, Store: h}
	if !coordinated { // the control: every process for itself
		cfg.Store = uncoordinated{h}
	}
	return c.Session(c.UserTokenSource(cfg))
}

const childEnv = "TOKENSTORE_TEST_CHILD"

// TestChildProcess is what each re-executed test binary runs: one paragon
// "process" making an authorized call with the shared stored tokens.
func TestChildProcess(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		t.Skip("only runs as a child process of another test")
	}
	store := keystore.NewFile(os.Getenv("STORE_PATH"))
	h := Store{Keys: store, Profile: "p", Kind: keystore.UserTokens, LockDir: os.Getenv("LOCK_DIR")}
	base := os.Getenv("SERVER_URL")
	switch mode {
	case "call", "call-uncoordinated":
		sess := newSession(t, base, h, mode == "call")
		// Everyone has loaded the expired token; start together.
		resp, err := http.Get(base + "/barrier?n=" + os.Getenv("CHILDREN"))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("barrier: %v %v", resp, err)
		}
		resp.Body.Close()
		if _, err := sess.Version(context.Background()); err != nil {
			t.Fatalf("authorized call: %v", err)
		}
	case "crash-before-save":
		// The rotated token arrives, and the process dies before saving it.
		h.Keys = crashingStore{store}
		sess := newSession(t, base, h, true)
		sess.Version(context.Background())
		t.Fatal("survived the crash")
	case "after-crash":
		sess := newSession(t, base, h, true)
		_, err := sess.Version(context.Background())
		if !errors.Is(err, client.ErrLoginRequired) {
			t.Fatalf("after a lost rotation: err = %v, want ErrLoginRequired", err)
		}
		t.Logf("reported: %v", err)
	default:
		t.Fatalf("unknown mode %q", mode)
	}
}

// crashingStore dies (os.Exit, no cleanup) when asked to write.
type crashingStore struct{ keystore.Store }

func (crashingStore) Set(profile, item, value string) error { os.Exit(3); return nil }

type childResult struct {
	err    error
	output string
}

// runChildren runs n copies of the test binary in mode at once.
func runChildren(t *testing.T, mode string, n int, env ...string) []childResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res := make([]childResult, n)
	var wg sync.WaitGroup
	for i := range n {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), append([]string{childEnv + "=" + mode, "CHILDREN=" + strconv.Itoa(n)}, env...)...)
		wg.Go(func() {
			out, err := cmd.CombinedOutput()
			res[i] = childResult{err, string(out)}
		})
	}
	wg.Wait()
	return res
}

func passed(r childResult) bool {
	return r.err == nil && strings.Contains(r.output, "--- PASS: TestChildProcess")
}

// sharedSetup returns a file store with expired tokens, the lock dir and
// the child environment for srv.
func sharedSetup(t *testing.T, srv *rotationServer) (*keystore.File, []string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "paragon")
	store := keystore.NewFile(filepath.Join(dir, keystore.FileName))
	seedExpired(t, store)
	return store, []string{"STORE_PATH=" + store.Path(), "LOCK_DIR=" + dir, "SERVER_URL=" + srv.URL}
}

// The proof of issue 3: 8 processes, an expired access token, strict
// rotation: all succeed, exactly one refresh, nobody logged out.
func TestEightProcessesRefreshOnce(t *testing.T) {
	srv := newRotationServer(t)
	store, env := sharedSetup(t, srv)
	const n = 8
	res := runChildren(t, "call", n, env...)
	ok := 0
	for i, r := range res {
		if passed(r) {
			ok++
		} else {
			t.Errorf("process %d failed: %v\n%s", i, r.err, r.output)
		}
	}
	refreshes, reuses, revoked := srv.stats()
	t.Logf("%d/%d processes succeeded; server saw %d refresh(es), %d reuse(s)", ok, n, refreshes, reuses)
	if refreshes != 1 || reuses != 0 || revoked {
		t.Errorf("refreshes = %d, reuses = %d, revoked = %v; want exactly 1 refresh and nobody logged out", refreshes, reuses, revoked)
	}
	tk, err := keystore.LoadTokens(store, "p", keystore.UserTokens)
	if err != nil || tk.RefreshToken != "rt-1" || tk.AccessToken != "at-1" || !tk.Expiry.After(time.Now()) {
		t.Errorf("stored after the run: %+v, %v; want the rotated pair", tk, err)
	}
}

// The control: the same run without the lock and the re-load spends the
// refresh token twice, and strict rotation logs everyone out. It shows the
// proof above can fail.
func TestEightProcessesWithoutLockAreLoggedOut(t *testing.T) {
	srv := newRotationServer(t)
	_, env := sharedSetup(t, srv)
	const n = 8
	res := runChildren(t, "call-uncoordinated", n, env...)
	failed := 0
	for _, r := range res {
		if !passed(r) {
			failed++
		}
	}
	refreshes, reuses, revoked := srv.stats()
	t.Logf("without the lock: %d/%d processes failed; %d refresh(es), %d reuse(s)", failed, n, refreshes, reuses)
	if failed == 0 || reuses == 0 || !revoked {
		t.Errorf("uncoordinated run: failed = %d, reuses = %d, revoked = %v; want a reuse and a revoked family", failed, reuses, revoked)
	}
}

// A process that dies between receiving the rotated token and saving it
// leaves the store whole (the old pair), and the next process reports
// "log in again" instead of failing obscurely.
func TestCrashBeforeSaveIsReported(t *testing.T) {
	srv := newRotationServer(t)
	store, env := sharedSetup(t, srv)
	before, _ := os.ReadFile(store.Path())
	res := runChildren(t, "crash-before-save", 1, env...)
	var ee *exec.ExitError
	if !errors.As(res[0].err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("child did not crash in Save: %v\n%s", res[0].err, res[0].output)
	}
	if refreshes, _, _ := srv.stats(); refreshes != 1 {
		t.Fatalf("refreshes = %d, want the 1 whose result was lost", refreshes)
	}
	after, _ := os.ReadFile(store.Path())
	if string(before) != string(after) {
		t.Errorf("store changed by the crashed process:\n%s", after)
	}
	res = runChildren(t, "after-crash", 1, env...)
	if !passed(res[0]) {
		t.Errorf("next process: %v\n%s", res[0].err, res[0].output)
	}
}

// failingStore refuses writes until healed.
type failingStore struct {
	keystore.Store
	mu     sync.Mutex
	broken bool
}

func (f *failingStore) Set(profile, item, value string) error {
	f.mu.Lock()
	broken := f.broken
	f.mu.Unlock()
	if broken {
		return errors.New("disk full")
	}
	return f.Store.Set(profile, item, value)
}

// A Save that fails is returned to the caller (ErrPersist), the store
// keeps its old whole pair, and the next call saves the token it holds
// instead of refreshing again (which would spend a dead refresh token).
func TestFailedSaveIsReturned(t *testing.T) {
	srv := newRotationServer(t)
	mem := keystore.NewMemory()
	seedExpired(t, mem)
	fs := &failingStore{Store: mem, broken: true}
	h := Store{Keys: fs, Profile: "p", Kind: keystore.UserTokens, LockDir: t.TempDir()}
	sess := newSession(t, srv.URL, h, true)

	_, err := sess.Version(context.Background())
	if !errors.Is(err, client.ErrPersist) || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v, want ErrPersist wrapping the store's error", err)
	}
	if strings.Contains(err.Error(), "rt-1") || strings.Contains(err.Error(), "at-1") {
		t.Errorf("error leaks a token: %v", err)
	}
	tk, _ := keystore.LoadTokens(mem, "p", keystore.UserTokens)
	if tk.RefreshToken != "rt-0" || tk.AccessToken != "at-0" {
		t.Errorf("store after the failed save: %+v, want the old pair, whole", tk)
	}
	fs.mu.Lock()
	fs.broken = false
	fs.mu.Unlock()
	if _, err := sess.Version(context.Background()); err != nil {
		t.Fatalf("after the store healed: %v", err)
	}
	tk, _ = keystore.LoadTokens(mem, "p", keystore.UserTokens)
	if tk.RefreshToken != "rt-1" || tk.AccessToken != "at-1" {
		t.Errorf("store after the retry: %+v, want the rotated pair", tk)
	}
	if refreshes, reuses, _ := srv.stats(); refreshes != 1 || reuses != 0 {
		t.Errorf("refreshes = %d, reuses = %d; want 1 and 0", refreshes, reuses)
	}
}

// The device token store is the profile's client.DeviceStore: the id and
// key in their keystore items, and client.LoadDevice finds the device.
func TestDeviceStoreRoundTrip(t *testing.T) {
	s := keystore.NewMemory()
	h := Store{Keys: s, Profile: "p", Kind: keystore.DeviceTokens, LockDir: t.TempDir()}
	c, err := client.New(client.Config{BaseURL: "https://paragon.test", APIKey: testAPIKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.LoadDevice(h); !errors.Is(err, client.ErrNoDevice) {
		t.Fatalf("empty profile: %v, want ErrNoDevice", err)
	}
	key, _ := client.GenerateDeviceKey()
	if err := h.SaveDevice("dev-1", key); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get("p", keystore.ItemDevicePrivateKey); v != client.MarshalPrivateKey(key) {
		t.Errorf("key stored as %d bytes, not in MarshalPrivateKey's form", len(v))
	}
	if err := h.Save(&client.Token{AccessToken: "d-at", RefreshToken: "d-rt"}); err != nil {
		t.Fatal(err)
	}
	dev, err := c.LoadDevice(h)
	if err != nil || dev.ID != "dev-1" || !dev.Key.Equal(key) || dev.TokenSource().Current().AccessToken != "d-at" {
		t.Fatalf("loaded %v, %v", dev, err)
	}
	_ = s.Set("p", keystore.ItemDevicePrivateKey, "garbage")
	if _, _, err := h.LoadDevice(); err == nil {
		t.Error("an unreadable key loaded")
	}
}
