package scenarios

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// runqueueWait is how long this process's threads have waited, runnable,
// for a CPU (the second field of /proc/self/task/*/schedstat, summed over
// the threads alive now). On a machine shared with other busy processes it
// shows time lost to them rather than to the code measured.
func runqueueWait() (time.Duration, bool) {
	files, err := filepath.Glob("/proc/self/task/*/schedstat")
	if err != nil || len(files) == 0 {
		return 0, false
	}
	var total time.Duration
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended
		}
		var onCPU, waiting int64
		if _, err := fmt.Sscan(string(b), &onCPU, &waiting); err != nil {
			return 0, false
		}
		total += time.Duration(waiting)
	}
	return total, true
}
