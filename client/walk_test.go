package client_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/paragon-cli/paragon/client"
)

// TestE2ERegisterWaitLoginAndResumeFromFiles is a service's walk over two
// runs: register and wait, log in with the device, call the API through the
// authorized *http.Client; then, in a "new process", load the device and
// the login from their files and go on after the access token expired.
func TestE2ERegisterWaitLoginAndResumeFromFiles(t *testing.T) {
	r := startRefServer(t)
	ctx := context.Background()
	dir := t.TempDir()
	devFile := client.FileStore{Path: filepath.Join(dir, "state", "device.json")}
	aliceFile := client.FileStore{Path: filepath.Join(dir, "state", "alice.json")}

	c := newE2EClient(t, r)
	if _, err := c.LoadDevice(devFile); !errors.Is(err, client.ErrNoDevice) {
		t.Fatalf("LoadDevice of a missing file: %v, want ErrNoDevice", err)
	}
	reg, err := c.Register(ctx, client.RegisterRequest{Description: "walk", Store: devFile})
	if err != nil {
		t.Fatal(err)
	}
	var polls int
	reg.Progress = func(client.PollEvent) { polls++ }
	dev, err := reg.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if dev.ID != reg.ClientID || dev.Key == nil || polls != 1 {
		t.Fatalf("device %v key set %v after %d pending polls", dev, dev.Key != nil, polls)
	}
	if _, err := c.Login(ctx, client.LoginRequest{UserID: "alice", Password: "wrong", Device: dev}); !errors.Is(err, client.ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	sess, err := c.Login(ctx, client.LoginRequest{UserID: "alice", Password: "wonderland", Device: dev, Store: aliceFile})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := sess.HTTPClient().Get(c.APIURL("/api/v1/account"))
	if err != nil {
		t.Fatal(err)
	}
	if err := client.CheckResponse(resp); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	first, _ := aliceFile.Load()
	if runtime.GOOS != "windows" {
		for _, f := range []string{devFile.Path, aliceFile.Path} {
			if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %v %v, want mode 0600", f, fi.Mode(), err)
			}
		}
	}

	// The next run: nothing but the files.
	r.Advance(2 * time.Hour)
	c2 := newE2EClient(t, r)
	dev2, err := c2.LoadDevice(devFile)
	if err != nil || dev2.ID != dev.ID || !dev2.Key.Equal(dev.Key) {
		t.Fatalf("loaded device %v (%v)", dev2, err)
	}
	users, err := c2.UserSession(aliceFile).ListUsers(ctx, 0)
	if err != nil || len(users) != 3 || users[0].Username != "alice" {
		t.Fatalf("users %+v %v", users, err)
	}
	if now, _ := aliceFile.Load(); now == nil || now.RefreshToken == first.RefreshToken {
		t.Errorf("the refreshed token was not saved in the file")
	}
	// The loaded device logs bob in, after renewing its expired token.
	if _, err := c2.Login(ctx, client.LoginRequest{UserID: "bob", Password: "builder", Device: dev2}); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.UserSession(client.FileStore{Path: filepath.Join(dir, "nobody.json")}).Version(ctx); !errors.Is(err, client.ErrLoginRequired) {
		t.Errorf("a session without a stored login: %v, want ErrLoginRequired", err)
	}
}

// TestFileStoreOneRefreshForTwoSources: two sources (as two processes
// would) share one FileStore; 20 goroutines each find the token expired,
// and the server sees one refresh.
func TestFileStoreOneRefreshForTwoSources(t *testing.T) {
	var mu sync.Mutex
	refreshes := 0
	store := client.FileStore{Path: filepath.Join(t.TempDir(), "u.json")}
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	if err := store.Save(&client.Token{AccessToken: "A0", RefreshToken: "R0", Expiry: now.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	refresh := func(ctx context.Context, rt string) (*client.Token, error) {
		mu.Lock()
		defer mu.Unlock()
		refreshes++
		if rt != "R0" {
			return nil, errors.New("refresh token " + rt + " reused")
		}
		time.Sleep(5 * time.Millisecond) // others queue on the file lock meanwhile
		return &client.Token{AccessToken: "A1", RefreshToken: "R1", Expiry: now.Add(time.Hour)}, nil
	}
	clock := func() time.Time { return now }
	a := client.NewRefreshingSource(client.SourceConfig{Store: store, Refresh: refresh, Now: clock})
	b := client.NewRefreshingSource(client.SourceConfig{Store: store, Refresh: refresh, Now: clock})
	var wg sync.WaitGroup
	for i := range 20 {
		src := a
		if i%2 == 1 {
			src = b
		}
		wg.Go(func() {
			if tok, err := src.Token(context.Background()); err != nil || tok.AccessToken != "A1" {
				t.Errorf("token %v %v", tok, err)
			}
		})
	}
	wg.Wait()
	if refreshes != 1 {
		t.Errorf("%d refreshes, want 1", refreshes)
	}
}

func TestFileStoreLockHonoursContext(t *testing.T) {
	store := client.FileStore{Path: filepath.Join(t.TempDir(), "u.json")}
	unlock, err := store.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := store.Lock(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("second Lock while held: %v, want context.Canceled", err)
	}
	unlock()
	unlock2, err := store.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	unlock2()
	if _, err := (client.FileStore{}).Load(); err == nil {
		t.Error("a FileStore without Path loaded")
	}
}
