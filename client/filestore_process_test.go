package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/paragon-cli/paragon/client"
	"github.com/paragon-cli/paragon/server"
)

const fileStoreChildEnv = "PARAGON_FILESTORE_CHILD"

// TestFileStoreChild is what each re-executed test binary of
// TestFileStoreEightProcessesRefreshOnce runs: one process of a service
// making an authorized call with the login kept in the shared file.
func TestFileStoreChild(t *testing.T) {
	if os.Getenv(fileStoreChildEnv) == "" {
		t.Skip("only runs as a child process of TestFileStoreEightProcessesRefreshOnce")
	}
	base := os.Getenv("SERVER_URL")
	c, err := client.New(client.Config{BaseURL: base, APIKey: server.DemoKeyValue})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(base + "/barrier") // start together
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := c.UserSession(client.FileStore{Path: os.Getenv("STORE_PATH")}).Version(context.Background()); err != nil {
		t.Fatalf("authorized call: %v", err)
	}
}

// TestFileStoreEightProcessesRefreshOnce: eight processes find alice's
// stored access token expired at once; the reference server (which revokes
// the whole login when a refresh token is used twice) sees one refresh, and
// every process succeeds.
func TestFileStoreEightProcessesRefreshOnce(t *testing.T) {
	const n = 8
	acct := server.DemoAccount()
	acct.Keys[0].AutoTrust = true
	srv, err := server.New(server.Options{Account: acct, PasswordCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	refreshes, arrived := 0, 0
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/barrier":
			mu.Lock()
			if arrived++; arrived == n {
				close(release)
			}
			mu.Unlock()
			<-release
			return
		case "/oauth/v1/token":
			mu.Lock()
			refreshes++
			mu.Unlock()
		}
		srv.ServeHTTP(w, r)
	}))
	defer ts.Close()
	defer srv.Close()

	ctx := context.Background()
	c, err := client.New(client.Config{BaseURL: ts.URL, APIKey: server.DemoKeyValue})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := c.Register(ctx, client.RegisterRequest{Description: "eight processes"})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := reg.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	store := client.FileStore{Path: filepath.Join(t.TempDir(), "alice.json")}
	if _, err := c.Login(ctx, client.LoginRequest{UserID: "alice", Password: "wonderland", Device: dev, Store: store}); err != nil {
		t.Fatal(err)
	}
	tok, _ := store.Load()
	expired := *tok
	expired.Expiry = time.Now().Add(-time.Minute) // as the next run finds it
	if err := store.Save(&expired); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	refreshes = 0
	mu.Unlock()

	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	outs := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		cmd := exec.CommandContext(cctx, os.Args[0], "-test.run=^TestFileStoreChild$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), fileStoreChildEnv+"=1", "SERVER_URL="+ts.URL, "STORE_PATH="+store.Path, "N="+strconv.Itoa(n))
		wg.Go(func() {
			out, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(out), err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || !strings.Contains(outs[i], "--- PASS: TestFileStoreChild") {
			t.Errorf("process %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if refreshes != 1 {
		t.Errorf("the server saw %d refreshes, want 1", refreshes)
	}
	if now, _ := store.Load(); now == nil || now.RefreshToken == tok.RefreshToken || !now.Valid(time.Now(), 0) {
		t.Errorf("the file does not hold the rotated token: %v", now)
	}
}
