// Package cmdutil holds what every command shares: the factory of
// dependencies, the exit codes and the error types that map to them.
package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Exit codes, decided here and nowhere else. They are documented in README.md.
const (
	ExitOK          = 0 // success
	ExitFailure     = 1 // an error, or a scenario failed
	ExitUsage       = 2 // a usage mistake, or a scenario file is invalid
	ExitUnreachable = 3 // the target server could not be reached (scenario run)
	ExitAuth        = 4 // authentication needed: the message names the command to run
	// ExitInterrupted is 128+SIGINT, what a shell reports for a program
	// killed by Ctrl-C: paragon stops cleanly on Ctrl-C (or SIGTERM) and
	// exits with it, so scripts can tell "stopped" from "failed".
	ExitInterrupted = 130
)

// FlagError is a usage mistake; the command's usage hint is printed with it.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// FlagErrorf builds a FlagError.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{Err: fmt.Errorf(format, args...)}
}

// ExitError carries an explicit exit code. Its message may be empty when the
// command already printed what went wrong.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return ""
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }

// AuthError means the user must authenticate; Hint is the next command to
// run. Its message is one line: what happened, then the command.
//
// Hint is a command that works as printed (tests run them): it ends the
// line, so that it can be copied. When says when to run it instead of the
// default "to fix this" ("once it is approved").
type AuthError struct {
	Err  error
	Hint string
	When string
}

func (e *AuthError) Error() string {
	if e.Hint == "" {
		return e.Err.Error()
	}
	when := e.When
	if when == "" {
		when = "to fix this"
	}
	return fmt.Sprintf("%v; %s, run: %s", e.Err, when, e.Hint)
}
func (e *AuthError) Unwrap() error { return e.Err }

// PromptError explains a failed terminal prompt for what ("the password"):
// Ctrl-C is just "interrupted" (ExitInterrupted).
func PromptError(what string, err error) error {
	if errors.Is(err, context.Canceled) {
		return &ExitError{Code: ExitInterrupted, Err: errors.New("interrupted")}
	}
	return fmt.Errorf("reading %s: %w", what, err)
}

// Message is the text paragon prints for err after its own "paragon: ":
// the error's message without the "paragon: " that package client starts
// its errors with, so that it is never printed twice.
func Message(err error) string {
	return strings.ReplaceAll(strings.TrimPrefix(err.Error(), "paragon: "), ": paragon: ", ": ")
}

// ExitCode maps an error returned by a command to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	var fe *FlagError
	if errors.As(err, &fe) {
		return ExitUsage
	}
	var ae *AuthError
	if errors.As(err, &ae) {
		return ExitAuth
	}
	return ExitFailure
}
