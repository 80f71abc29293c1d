package serve

import (
	"io"
	"sync"
	"time"
)

// logFlushEvery is how long a log line may wait in a logWriter.
const logFlushEvery = 100 * time.Millisecond

// logBufferSize is how much a logWriter gathers before it writes at once.
const logBufferSize = 32 << 10

// logWriter gathers the server's log lines and writes them out together:
// at most logFlushEvery after the first waiting line, at once when
// logBufferSize bytes wait, and on Close. Under load that is one write
// system call for many requests instead of one each (the request log is a
// large part of an authorized call's cost, docs/performance.md). A line is
// never split between two writes.
type logWriter struct {
	mu      sync.Mutex
	w       io.Writer
	every   time.Duration // logFlushEvery
	buf     []byte
	pending bool // a flush is scheduled
	closed  bool
}

func newLogWriter(w io.Writer) *logWriter {
	return &logWriter{w: w, every: logFlushEvery, buf: make([]byte, 0, logBufferSize)}
}

func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return l.w.Write(p)
	}
	if len(l.buf)+len(p) > logBufferSize {
		if err := l.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > logBufferSize {
			return l.w.Write(p)
		}
	}
	l.buf = append(l.buf, p...)
	if !l.pending {
		l.pending = true
		time.AfterFunc(l.every, l.Flush)
	}
	return len(p), nil
}

// Flush writes what waits.
func (l *logWriter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.flushLocked()
	l.pending = false
}

func (l *logWriter) flushLocked() error {
	if len(l.buf) == 0 {
		return nil
	}
	_, err := l.w.Write(l.buf)
	l.buf = l.buf[:0]
	return err
}

// Close writes what waits; later lines are written at once.
func (l *logWriter) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return l.flushLocked()
}
