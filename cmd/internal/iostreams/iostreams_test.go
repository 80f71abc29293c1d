package iostreams

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestPromptNeedsTTY(t *testing.T) {
	ios, in, _, _ := Test()
	in.WriteString("alice\n")
	if _, err := ios.Prompt(context.Background(), "User: "); !errors.Is(err, ErrNoTTY) {
		t.Fatalf("err %v, want ErrNoTTY", err)
	}
	if _, err := ios.PromptPassword(context.Background(), "Password: "); !errors.Is(err, ErrNoTTY) {
		t.Fatalf("err %v, want ErrNoTTY", err)
	}
}

func TestPromptsOnTTY(t *testing.T) {
	ios, in, out, errOut := Test()
	ios.SetTTY(true)
	in.WriteString("alice\r\n")
	ios.SetPasswordReader(func() ([]byte, error) { return []byte("wonderland"), nil })
	u, err := ios.Prompt(context.Background(), "User: ")
	if err != nil || u != "alice" {
		t.Fatalf("user %q, %v", u, err)
	}
	p, err := ios.PromptPassword(context.Background(), "Password: ")
	if err != nil || p != "wonderland" {
		t.Fatalf("password %q, %v", p, err)
	}
	if out.Len() != 0 {
		t.Errorf("prompts wrote to stdout: %q", out)
	}
	if got := errOut.String(); got != "User: Password: \n" || strings.Contains(got, "wonderland") {
		t.Errorf("stderr %q", got)
	}
}

func TestReadLineLastLineWithoutNewline(t *testing.T) {
	ios, in, _, _ := Test()
	in.WriteString("one\ntwo")
	for _, want := range []string{"one", "two"} {
		got, err := ios.ReadLine()
		if err != nil || got != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
	if _, err := ios.ReadLine(); err == nil {
		t.Fatal("want EOF")
	}
}

func TestProgressPlainWhenNotTTY(t *testing.T) {
	ios, _, out, errOut := Test()
	ios.StartProgress("Waiting for approval")
	ios.StopProgress()
	if errOut.String() != "Waiting for approval\n" || out.Len() != 0 {
		t.Fatalf("stderr %q stdout %q", errOut, out)
	}
}

func TestSpinnerOnTTY(t *testing.T) {
	ios, _, _, errOut := Test()
	ios.SetTTY(true)
	ios.SetNoColor(true)
	ios.StartProgress("Waiting")
	ios.StopProgress()
	got := errOut.String()
	if !strings.Contains(got, "⠋ Waiting") || !strings.HasSuffix(got, "\r\x1b[K") {
		t.Fatalf("stderr %q", got)
	}
	ios.StopProgress() // a second stop is harmless
}

func TestColorOnlyOnTTYWithoutNoColor(t *testing.T) {
	ios, _, _, _ := Test()
	if ios.ColorScheme().Red("x") != "x" {
		t.Error("coloured a non-terminal")
	}
	ios.SetTTY(true)
	if got := ios.ColorScheme().Red("x"); got == "x" || !strings.Contains(got, "\x1b[") {
		t.Errorf("no colour on a terminal: %q", got)
	}
	ios.SetNoColor(true)
	if ios.ColorScheme().Red("x") != "x" || ios.ColorSchemeStderr().Bold("x") != "x" {
		t.Error("coloured despite NO_COLOR")
	}
}

func TestPasswordPromptInterrupted(t *testing.T) {
	ios, _, _, _ := Test()
	ios.SetTTY(true)
	block := make(chan struct{})
	defer close(block)
	ios.SetPasswordReader(func() ([]byte, error) { <-block; return nil, errors.New("unblocked") })
	restored := false
	ios.saveTerminal = func() func() { return func() { restored = true } }
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Ctrl-C
	if _, err := ios.PromptPassword(ctx, "Password: "); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if !restored {
		t.Error("terminal state not restored after the interrupted prompt")
	}
}

func TestSystemHonoursNoColor(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	if !System().noColor {
		t.Error("NO_COLOR ignored")
	}
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "xterm-256color")
	if System().noColor {
		t.Error("an empty NO_COLOR turned colour off")
	}
	t.Setenv("TERM", "dumb")
	if !System().noColor {
		t.Error("TERM=dumb ignored")
	}
}

// Echo must be off before the prompt appears (keys typed the moment it does
// are never echoed), and back on once the line is read.
func TestPasswordPromptEchoOffBeforePrompt(t *testing.T) {
	ios, _, _, errOut := Test()
	ios.SetTTY(true)
	var events []string
	ios.saveTerminal = func() func() { return func() { events = append(events, "restore") } }
	ios.noEcho = func() { events = append(events, "echo off, stderr "+strconv.Quote(errOut.String())) }
	ios.SetPasswordReader(func() ([]byte, error) {
		events = append(events, "read, stderr "+strconv.Quote(errOut.String()))
		return []byte("wonderland"), nil
	})
	pw, err := ios.PromptPassword(context.Background(), "Password: ")
	if err != nil || pw != "wonderland" {
		t.Fatalf("PromptPassword = %q, %v", pw, err)
	}
	want := []string{`echo off, stderr ""`, `read, stderr "Password: "`, "restore"}
	if !slices.Equal(events, want) {
		t.Errorf("events %q, want %q", events, want)
	}
}
