//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || windows)

package client

import (
	"os"
	"sync"
)

// Without an OS file lock the lock excludes the goroutines of this process
// only.
var (
	processLocksMu sync.Mutex
	processLocks   = map[string]bool{}
)

func tryLockFile(f *os.File) (bool, error) {
	processLocksMu.Lock()
	defer processLocksMu.Unlock()
	if processLocks[f.Name()] {
		return false, nil
	}
	processLocks[f.Name()] = true
	return true, nil
}

func unlockFile(f *os.File) {
	processLocksMu.Lock()
	delete(processLocks, f.Name())
	processLocksMu.Unlock()
}
