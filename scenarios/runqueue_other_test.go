//go:build !linux

package scenarios

import "time"

// runqueueWait is not available on this system.
func runqueueWait() (time.Duration, bool) { return 0, false }
