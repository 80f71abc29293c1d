package keystore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLockExcludesAndHonoursContext(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "paragon")
	unlock, err := LockDir(context.Background(), dir, "work")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "work.lock"))
	if err != nil || runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file: %v, %v", fi, err)
	}
	// Another profile's lock is independent.
	u2, err := LockDir(context.Background(), dir, "home")
	if err != nil {
		t.Fatalf("other profile blocked: %v", err)
	}
	u2()

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := LockDir(ctx, dir, "work"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock while held: err = %v, want DeadlineExceeded", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := LockDir(ctx, dir, "work"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: err = %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	u3, err := LockDir(context.Background(), dir, "work")
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	u3()
	if _, err := LockDir(context.Background(), dir, "../x"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("bad profile: %v", err)
	}
}

func TestLockDefaultDir(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	unlock, err := Lock(context.Background(), "p")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	dir, _ := DefaultDir()
	if _, err := os.Stat(filepath.Join(dir, "p.lock")); err != nil {
		t.Errorf("lock file not in the config dir: %v", err)
	}
}

func TestLockSerializesGoroutines(t *testing.T) {
	dir := t.TempDir()
	var inside, maxInside atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				unlock, err := LockDir(context.Background(), dir, "p")
				if err != nil {
					t.Error(err)
					return
				}
				n := inside.Add(1)
				for {
					m := maxInside.Load()
					if n <= m || maxInside.CompareAndSwap(m, n) {
						break
					}
				}
				runtime.Gosched() // let others run while held, so overlaps would show
				inside.Add(-1)
				unlock()
			}
		})
	}
	wg.Wait()
	if m := maxInside.Load(); m != 1 {
		t.Errorf("%d holders at once, want 1", m)
	}
}
