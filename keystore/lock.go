package keystore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
)

// lockRetry is how often a waiting Lock retries.
const lockRetry = 10 * time.Millisecond

// Lock takes the cross-process refresh lock of profile, the file
// <os.UserConfigDir()>/paragon/<profile>.lock, waiting until it is free or
// ctx is done. Hold it around "read the stored tokens → refresh if still
// needed → store the result" so parallel processes refresh once. The lock
// also excludes other goroutines of this process (each Lock opens its own
// descriptor). Call unlock exactly once.
func Lock(ctx context.Context, profile string) (unlock func() error, err error) {
	dir, err := DefaultDir()
	if err != nil {
		return nil, err
	}
	return LockDir(ctx, dir, profile)
}

// LockDir is Lock with an explicit config directory.
func LockDir(ctx context.Context, dir, profile string) (unlock func() error, err error) {
	if err := checkName("profile", profile); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keystore: lock: %w", err)
	}
	path := filepath.Join(dir, profile+".lock")
	lk := flock.New(path, flock.SetPermissions(0o600))
	ok, err := lk.TryLockContext(ctx, lockRetry)
	if err != nil {
		return nil, fmt.Errorf("keystore: waiting for the refresh lock %s: %w", path, err)
	}
	if !ok {
		return nil, fmt.Errorf("keystore: could not take the refresh lock %s", path)
	}
	return lk.Unlock, nil
}
