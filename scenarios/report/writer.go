package report

import (
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/paragon-cli/paragon/scenarios"
)

// Writer is one machine-readable report format, as `paragon scenario run
// --report FORMAT=FILE` names it. The formats of this package (html, junit, json,
// tap) register themselves; a program may Register its own.
type Writer struct {
	Format   string // the name in --report, lower case
	Doc      string // a few words for help texts and shell completion
	ToStdout bool   // may be written to standard output (--report FORMAT=-)
	Write    func(io.Writer, *scenarios.Report) error
}

var (
	writersMu sync.RWMutex
	writers   = map[string]Writer{}
)

// Register adds a report format. It panics when the format is already
// registered or the Writer is incomplete.
func Register(w Writer) {
	writersMu.Lock()
	defer writersMu.Unlock()
	if _, dup := writers[w.Format]; dup || w.Format == "" || w.Write == nil {
		panic(fmt.Sprintf("report: bad or duplicate writer %q", w.Format))
	}
	writers[w.Format] = w
}

// WriterFor returns the registered writer of a format.
func WriterFor(format string) (Writer, bool) {
	writersMu.RLock()
	defer writersMu.RUnlock()
	w, ok := writers[format]
	return w, ok
}

// Formats lists the registered formats in name order.
func Formats() []string {
	writersMu.RLock()
	defer writersMu.RUnlock()
	var out []string
	for f := range writers {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}
