package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stubRefresh returns a Refresh func that rotates R<n> → A<n+1>/R<n+1> and
// counts calls; block, if non-nil, is waited on before answering.
func stubRefresh(clk *fakeClock, block <-chan struct{}) (func(context.Context, string) (*Token, error), *atomic.Int32) {
	var n atomic.Int32
	return func(ctx context.Context, rt string) (*Token, error) {
		i := n.Add(1)
		if block != nil {
			<-block
		}
		return &Token{AccessToken: fmt.Sprintf("A%d", i), RefreshToken: fmt.Sprintf("R%d", i), TokenType: "Bearer",
			Expiry: clk.Now().Add(time.Hour)}, nil
	}, &n
}

func TestSourceReusesUntilSkew(t *testing.T) {
	clk := newFakeClock()
	refresh, n := stubRefresh(clk, nil)
	s := NewRefreshingSource(SourceConfig{Token: &Token{AccessToken: "A0", RefreshToken: "R0", Expiry: clk.Now().Add(10 * time.Minute)},
		Refresh: refresh, Now: clk.Now, Skew: 2 * time.Minute})
	ctx := context.Background()
	for range 3 {
		if tok, err := s.Token(ctx); err != nil || tok.AccessToken != "A0" {
			t.Fatalf("%+v %v", tok, err)
		}
	}
	clk.Advance(8*time.Minute + time.Second) // within the 2 minute skew
	if tok, err := s.Token(ctx); err != nil || tok.AccessToken != "A1" || n.Load() != 1 {
		t.Fatalf("after skew: %+v %v refreshes %d", tok, err, n.Load())
	}
}

func TestSourceDefaultSkewIs60s(t *testing.T) {
	clk := newFakeClock()
	refresh, n := stubRefresh(clk, nil)
	s := NewRefreshingSource(SourceConfig{Token: &Token{AccessToken: "A0", RefreshToken: "R0", Expiry: clk.Now().Add(61 * time.Second)},
		Refresh: refresh, Now: clk.Now})
	_, _ = s.Token(context.Background())
	if n.Load() != 0 {
		t.Fatal("refreshed 61 s before expiry")
	}
	clk.Advance(2 * time.Second)
	_, _ = s.Token(context.Background())
	if n.Load() != 1 {
		t.Fatal("did not refresh 59 s before expiry")
	}
}

func TestSourcePersistBeforeUse(t *testing.T) {
	clk := newFakeClock()
	var mu sync.Mutex
	var events []string
	log := func(e string) { mu.Lock(); events = append(events, e); mu.Unlock() }
	refresh, _ := stubRefresh(clk, nil)
	src := NewRefreshingSource(SourceConfig{
		Token:   &Token{AccessToken: "A0", RefreshToken: "R0", Expiry: clk.Now().Add(-time.Second)},
		Refresh: func(ctx context.Context, rt string) (*Token, error) { log("refresh:" + rt); return refresh(ctx, rt) },
		Now:     clk.Now,
		Store:   funcStore{save: func(t *Token) error { log("persist:" + t.RefreshToken); return nil }},
	})
	c, mt := newMockClient(t, clk, nil)
	mt.RegisterResponder("GET", testBase+"/api/v1/version", func(req *http.Request) (*http.Response, error) {
		log("use:" + req.Header.Get("Authorization"))
		return jsonResp(200, `{"version":"x"}`), nil
	})
	if _, err := c.Session(src).Version(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"refresh:R0", "persist:R1", "use:Bearer A1"}
	if fmt.Sprint(events) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", events, want)
	}
}

func TestSourceFailedPersistIsReturnedAndRetried(t *testing.T) {
	clk := newFakeClock()
	refresh, n := stubRefresh(clk, nil)
	diskFull := errors.New("disk full")
	fail := true
	var saved []string
	s := NewRefreshingSource(SourceConfig{
		Token:   &Token{AccessToken: "A0", RefreshToken: "R0", Expiry: clk.Now().Add(-time.Second)},
		Refresh: refresh, Now: clk.Now,
		Store: funcStore{save: func(t *Token) error {
			if fail {
				return diskFull
			}
			saved = append(saved, t.RefreshToken)
			return nil
		}},
	})
	tok, err := s.Token(context.Background())
	if !errors.Is(err, ErrPersist) || !errors.Is(err, diskFull) || tok != nil {
		t.Fatalf("tok %v err %v, want ErrPersist wrapping the hook's error and no token", tok, err)
	}
	if cur := s.Current(); cur == nil || cur.RefreshToken != "R1" {
		t.Fatalf("rotated token not kept in memory: %+v", cur)
	}
	// Still failing: still an error, no new refresh (R1 is the live token).
	if _, err := s.Token(context.Background()); !errors.Is(err, ErrPersist) || n.Load() != 1 {
		t.Fatalf("second call: %v, refreshes %d", err, n.Load())
	}
	fail = false
	tok, err = s.Token(context.Background())
	if err != nil || tok.AccessToken != "A1" || n.Load() != 1 || fmt.Sprint(saved) != "[R1]" {
		t.Fatalf("after the store recovers: %+v %v refreshes %d saved %v", tok, err, n.Load(), saved)
	}
}

func TestSourceLockAndLoadAdoptsOtherProcessToken(t *testing.T) {
	clk := newFakeClock()
	refresh, n := stubRefresh(clk, nil)
	var locks, unlocks int
	stored := &Token{AccessToken: "OTHER", RefreshToken: "ROTHER", Expiry: clk.Now().Add(time.Hour)}
	s := NewRefreshingSource(SourceConfig{
		Token:   &Token{AccessToken: "A0", RefreshToken: "R0", Expiry: clk.Now().Add(-time.Second)},
		Refresh: refresh, Now: clk.Now,
		Store: funcStore{
			lock: func(ctx context.Context) (func(), error) {
				locks++
				return func() { unlocks++ }, nil
			},
			load: func() (*Token, error) { return stored, nil },
			save: func(*Token) error { t.Error("persisted a token that was loaded"); return nil },
		},
	})
	tok, err := s.Token(context.Background())
	if err != nil || tok.AccessToken != "OTHER" || n.Load() != 0 || locks != 1 || unlocks != 1 {
		t.Fatalf("tok %+v err %v refreshes %d locks %d/%d", tok, err, n.Load(), locks, unlocks)
	}
}

func TestSourceLoadedExpiredTokenRefreshesWithStoredRefreshToken(t *testing.T) {
	clk := newFakeClock()
	var used string
	s := NewRefreshingSource(SourceConfig{
		Token: &Token{AccessToken: "A0", RefreshToken: "R0-spent", Expiry: clk.Now().Add(-time.Second)},
		Refresh: func(ctx context.Context, rt string) (*Token, error) {
			used = rt
			return &Token{AccessToken: "A9", RefreshToken: "R9", Expiry: clk.Now().Add(time.Hour)}, nil
		},
		Now: clk.Now,
		Store: funcStore{load: func() (*Token, error) {
			return &Token{AccessToken: "A5", RefreshToken: "R5", Expiry: clk.Now()}, nil
		}},
	})
	if _, err := s.Token(context.Background()); err != nil || used != "R5" {
		t.Fatalf("refreshed with %q (err %v), want the stored R5", used, err)
	}
}

func TestSourceLockErrorIsReturned(t *testing.T) {
	clk := newFakeClock()
	refresh, n := stubRefresh(clk, nil)
	busy := errors.New("lock busy")
	s := NewRefreshingSource(SourceConfig{Token: &Token{AccessToken: "A0", RefreshToken: "R0", Expiry: clk.Now()},
		Refresh: refresh, Now: clk.Now, Store: funcStore{lock: func(context.Context) (func(), error) { return nil, busy }}})
	if _, err := s.Token(context.Background()); !errors.Is(err, busy) || n.Load() != 0 {
		t.Fatalf("err %v refreshes %d", err, n.Load())
	}
}

func TestSourceForceRefresh(t *testing.T) {
	clk := newFakeClock()
	refresh, n := stubRefresh(clk, nil)
	s := NewRefreshingSource(SourceConfig{Token: &Token{AccessToken: "A0", RefreshToken: "R0", Expiry: clk.Now().Add(time.Hour)},
		Refresh: refresh, Now: clk.Now})
	ctx := context.Background()
	a0, _ := s.Token(ctx)
	a1, err := s.ForceRefresh(ctx, a0)
	if err != nil || a1.AccessToken != "A1" || n.Load() != 1 {
		t.Fatalf("force: %+v %v", a1, err)
	}
	// A caller still holding A0 learns of A1 without another refresh.
	again, err := s.ForceRefresh(ctx, a0)
	if err != nil || again.AccessToken != "A1" || n.Load() != 1 {
		t.Fatalf("stale force: %+v %v refreshes %d", again, err, n.Load())
	}
}

func TestSourceNoRefreshToken(t *testing.T) {
	clk := newFakeClock()
	s := NewRefreshingSource(SourceConfig{Token: &Token{AccessToken: "A0", Expiry: clk.Now()}, Now: clk.Now,
		Refresh: func(context.Context, string) (*Token, error) {
			t.Error("refreshed without a refresh token")
			return nil, nil
		}})
	if _, err := s.Token(context.Background()); !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("err %v, want ErrLoginRequired", err)
	}
	c, _ := newMockClient(t, clk, nil)
	d := c.deviceTokenSource("dev", nil, SourceConfig{Token: &Token{AccessToken: "D", Expiry: clk.Now()}})
	if _, err := d.Token(context.Background()); !errors.Is(err, ErrDeviceNotTrusted) {
		t.Fatalf("device source: %v, want ErrDeviceNotTrusted", err)
	}
}

func TestSourceSingleFlightAndCancelledWaiter(t *testing.T) {
	clk := newFakeClock()
	block := make(chan struct{})
	refresh, n := stubRefresh(clk, block)
	persisted := make(chan *Token, 1)
	s := NewRefreshingSource(SourceConfig{Token: &Token{AccessToken: "A0", RefreshToken: "R0", Expiry: clk.Now()},
		Refresh: refresh, Now: clk.Now, Store: funcStore{save: func(t *Token) error { persisted <- t; return nil }}})

	// A caller that gives up while the refresh is in flight gets ctx.Err()
	// at once; the refresh still completes and is persisted.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := s.Token(ctx); done <- err }()
	waitFor(t, func() bool { return n.Load() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}

	var wg sync.WaitGroup
	results := make(chan string, 32)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := s.Token(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			results <- tok.AccessToken
		}()
	}
	close(block)
	wg.Wait()
	close(results)
	for a := range results {
		if a != "A1" {
			t.Errorf("got %s, want A1", a)
		}
	}
	if n.Load() != 1 {
		t.Errorf("%d refreshes, want 1", n.Load())
	}
	if p := <-persisted; p.RefreshToken != "R1" {
		t.Errorf("persisted %+v", p)
	}
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestConcurrentCallersShareOneRefresh(t *testing.T) {
	m, ts := newMiniServer(t)
	clk := newFakeClock()
	c, err := New(Config{BaseURL: ts.URL, APIKey: testKey, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	// The access token the client holds has expired.
	src := c.UserTokenSource(SourceConfig{Token: &Token{AccessToken: "A0", RefreshToken: "R0", Expiry: clk.Now().Add(-time.Minute)}})
	s := c.Session(src)
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := s.Version(context.Background()); err != nil || v.Version != "1.0.0-mini" {
				t.Errorf("%v %v", v, err)
			}
		}()
	}
	wg.Wait()
	if r, calls := m.counts(); r != 1 || calls != 64 {
		t.Fatalf("server saw %d refreshes and %d calls, want 1 and 64", r, calls)
	}

	// The same when the client does not know: the server stopped accepting
	// the token, 64 callers get 401, one refresh serves them all.
	m.expire()
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Version(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if r, _ := m.counts(); r != 2 {
		t.Fatalf("server saw %d refreshes in all, want 2", r)
	}
}

func TestSourceForcedRefreshIgnoresStoredRejectedToken(t *testing.T) {
	clk := newFakeClock()
	refresh, n := stubRefresh(clk, nil)
	cur := &Token{AccessToken: "A0", RefreshToken: "R0", Expiry: clk.Now().Add(time.Hour)}
	s := NewRefreshingSource(SourceConfig{Token: cur, Refresh: refresh, Now: clk.Now,
		Store: funcStore{load: func() (*Token, error) { return cur, nil }}})
	tok, err := s.ForceRefresh(context.Background(), cur)
	if err != nil || tok.AccessToken != "A1" || n.Load() != 1 {
		t.Fatalf("%+v %v refreshes %d: the stored token is the rejected one, a refresh was needed", tok, err, n.Load())
	}
	if _, err := s.ForceRefresh(context.Background(), nil); err != nil || n.Load() != 2 {
		t.Fatalf("ForceRefresh(nil) must refresh: %v, refreshes %d", err, n.Load())
	}
}
