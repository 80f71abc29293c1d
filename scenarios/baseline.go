package scenarios

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Baseline lists the scenarios a run expects to fail (an expected-failures
// file): they are reported, marked Expected, but do not fail the run (see
// report.Judge). A nil *Baseline expects nothing.
type Baseline struct {
	File  string // where it was read from, for messages
	names map[string]bool
}

// ReadBaseline reads an expected-failures file: one scenario name a line,
// blank lines ignored, '#' starts a comment. An empty file name is no
// baseline (nil).
func ReadBaseline(file string) (*Baseline, error) {
	if file == "" {
		return nil, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseBaseline(file, f)
}

// ParseBaseline reads an expected-failures list from r (see ReadBaseline);
// file names it in messages.
func ParseBaseline(file string, r io.Reader) (*Baseline, error) {
	b := &Baseline{File: file, names: map[string]bool{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line = strings.TrimSpace(line); line != "" {
			b.names[line] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return b, nil
}

// Lists reports whether the baseline names the scenario.
func (b *Baseline) Lists(name string) bool { return b != nil && b.names[name] }

// Unknown lists the baseline's names that name no scenario of all (typos,
// or scenarios renamed since), sorted.
func (b *Baseline) Unknown(all []*Scenario) []string {
	if b == nil {
		return nil
	}
	known := map[string]bool{}
	for _, s := range all {
		known[s.Name] = true
	}
	var out []string
	for n := range b.names {
		if !known[n] {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Mark flags a result the baseline lists: Expected, and a FAILED one gets
// the reason "listed in <file>".
func (b *Baseline) Mark(s *ScenarioResult) {
	if !b.Lists(s.Name) {
		return
	}
	s.Expected = true
	if s.Status == Failed && s.Reason == "" {
		s.Reason = "listed in " + b.File
	}
}
