package serve

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// writes records each Write the logWriter makes.
type writes struct {
	mu  sync.Mutex
	got []string
}

func (w *writes) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.got = append(w.got, string(p))
	return len(p), nil
}

func (w *writes) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.got...)
}

// Log lines are written together, whole, in order: when the buffer fills,
// on Flush and on Close; after Close at once.
func TestLogWriterGathersLines(t *testing.T) {
	out := &writes{}
	l := newLogWriter(out)
	l.every = time.Hour // no timer flush here
	line := strings.Repeat("x", 99) + "\n"
	for range 3 {
		l.Write([]byte(line))
	}
	if got := out.all(); len(got) != 0 {
		t.Fatalf("written before a flush: %q", got)
	}
	l.Flush()
	if got := out.all(); len(got) != 1 || got[0] != strings.Repeat(line, 3) {
		t.Fatalf("after Flush: %d writes", len(got))
	}
	// Filling the buffer writes what waits, whole lines only.
	n := logBufferSize/len(line) + 1
	for range n {
		l.Write([]byte(line))
	}
	got := out.all()
	if len(got) != 2 || got[1] != strings.Repeat(line, n-1) {
		t.Fatalf("after filling the buffer: %d writes", len(got))
	}
	l.Write([]byte("last\n"))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l.Write([]byte("after\n"))
	if got := out.all(); len(got) != 4 || got[2] != line+"last\n" || got[3] != "after\n" {
		t.Fatalf("Close and after: %q", got[2:])
	}
}

// A waiting line is written by itself after the flush interval.
func TestLogWriterFlushesByItself(t *testing.T) {
	out := &writes{}
	l := newLogWriter(out)
	l.every = time.Millisecond
	l.Write([]byte("one\n"))
	for len(out.all()) == 0 {
		time.Sleep(time.Millisecond)
	}
	if got := out.all(); len(got) != 1 || got[0] != "one\n" {
		t.Fatalf("%q", got)
	}
}
