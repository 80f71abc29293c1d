// Package iostreams is the one place that knows where the CLI's output goes
// and whether it is a terminal: data goes to Out, messages and progress to
// ErrOut; colour and styling only when the stream is a terminal and NO_COLOR
// is unset.
package iostreams

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"
)

// IOStreams bundles the standard streams with what is known about them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY  bool
	stdoutTTY bool
	stderrTTY bool
	noColor   bool

	// readPassword reads a line without echo; nil means "read a line from
	// In" (tests, or a stdin that is not a terminal).
	readPassword func() ([]byte, error)
	// noEcho, when set, turns the terminal's echo off before the prompt is
	// written (readPassword then only reads); saveTerminal's restore turns
	// it back on.
	noEcho func()
	// saveTerminal saves the terminal's state and returns a function that
	// restores it (echo back on after an interrupted password prompt).
	saveTerminal func() func()
	inReader     *bufio.Reader

	progressMu sync.Mutex
	progress   *spinner
}

// System returns the process's streams.
func System() *IOStreams {
	noColor := os.Getenv("NO_COLOR") != "" // no-color.org: set and not empty
	noEcho, readPassword := passwordFunctions()
	return &IOStreams{
		In:           os.Stdin,
		Out:          os.Stdout,
		ErrOut:       os.Stderr,
		stdinTTY:     isTerminal(os.Stdin),
		stdoutTTY:    isTerminal(os.Stdout),
		stderrTTY:    isTerminal(os.Stderr),
		noColor:      noColor || os.Getenv("TERM") == "dumb",
		readPassword: readPassword,
		noEcho:       noEcho,
		saveTerminal: func() func() {
			st, err := term.GetState(int(os.Stdin.Fd()))
			if err != nil {
				return func() {}
			}
			return func() { _ = term.Restore(int(os.Stdin.Fd()), st) }
		},
	}
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// Test returns streams backed by buffers, none of them a terminal, plus the
// buffers for stdin, stdout and stderr.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

// IsStdinTTY reports whether stdin is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// IsStdoutTTY reports whether stdout is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether stderr is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// SetTTY marks all three streams as terminals or not (for tests).
func (s *IOStreams) SetTTY(tty bool) { s.stdinTTY, s.stdoutTTY, s.stderrTTY = tty, tty, tty }

// SetNoColor turns colour off (the --no-color flag).
func (s *IOStreams) SetNoColor(v bool) { s.noColor = v }

// ColorEnabled reports whether stdout may be styled.
func (s *IOStreams) ColorEnabled() bool { return s.stdoutTTY && !s.noColor }

// ColorEnabledStderr reports whether stderr may be styled.
func (s *IOStreams) ColorEnabledStderr() bool { return s.stderrTTY && !s.noColor }

// ErrNoTTY is returned by the prompts when stdin is not a terminal: a script
// must pass the value by flag or on stdin instead.
var ErrNoTTY = errors.New("cannot prompt: stdin is not a terminal")

// reader returns the buffered reader over In shared by every prompt.
func (s *IOStreams) reader() *bufio.Reader {
	if s.inReader == nil {
		s.inReader = bufio.NewReader(s.In)
	}
	return s.inReader
}

// ReadLine reads one line from In without its line ending. At end of input
// it returns what it read and io.EOF only when that is nothing.
func (s *IOStreams) ReadLine() (string, error) {
	line, err := s.reader().ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// Prompt writes label to ErrOut and reads one line from a terminal stdin.
// It returns ctx's error at once when ctx ends first (Ctrl-C).
func (s *IOStreams) Prompt(ctx context.Context, label string) (string, error) {
	if !s.stdinTTY {
		return "", ErrNoTTY
	}
	fmt.Fprint(s.ErrOut, label)
	return s.await(ctx, func() (string, error) { return s.ReadLine() }, nil)
}

// PromptPassword writes label to ErrOut and reads one line from a terminal
// stdin without echoing it. When ctx ends first (Ctrl-C) it restores the
// terminal (echo on) and returns ctx's error.
func (s *IOStreams) PromptPassword(ctx context.Context, label string) (string, error) {
	if !s.stdinTTY {
		return "", ErrNoTTY
	}
	if s.readPassword == nil {
		fmt.Fprint(s.ErrOut, label)
		return s.await(ctx, func() (string, error) { return s.ReadLine() }, nil)
	}
	restore := func() {}
	if s.saveTerminal != nil {
		restore = s.saveTerminal()
	}
	// Echo goes off before the prompt appears, so that keys typed the
	// moment it does are never echoed, and a Ctrl-C cannot race a reader
	// that turns echo off after the restore.
	if s.noEcho != nil {
		s.noEcho()
	}
	fmt.Fprint(s.ErrOut, label)
	v, err := s.await(ctx, func() (string, error) {
		b, err := s.readPassword()
		return string(b), err
	}, restore)
	if s.noEcho != nil {
		restore()
	}
	fmt.Fprintln(s.ErrOut) // the user's Enter was not echoed
	return v, err
}

// await runs read on its own goroutine so that ctx can end the wait; the
// abandoned read ends with the process. onCancel runs when ctx wins.
func (s *IOStreams) await(ctx context.Context, read func() (string, error), onCancel func()) (string, error) {
	type result struct {
		v   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := read()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		if onCancel != nil {
			onCancel()
		}
		return "", ctx.Err()
	}
}

// SetPasswordReader replaces the no-echo reader (for tests).
func (s *IOStreams) SetPasswordReader(f func() ([]byte, error)) { s.readPassword = f }
