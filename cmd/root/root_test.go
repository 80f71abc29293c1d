package root

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/build"
	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios}
	code := Run(context.Background(), f, NewCmdRoot(f), args)
	return code, out.String(), errOut.String()
}

func TestVersion(t *testing.T) {
	old := build.Version
	build.Version = "1.2.3"
	defer func() { build.Version = old }()
	code, out, _ := run(t, "version")
	if code != 0 || out != "paragon version 1.2.3\n" {
		t.Fatalf("version: code %d, out %q", code, out)
	}
}

func TestVersionJSON(t *testing.T) {
	old := build.Version
	build.Version = "1.2.3"
	defer func() { build.Version = old }()
	code, out, _ := run(t, "version", "--json")
	if want := `{"version":"1.2.3","commit":"` + build.Commit + `","date":"` + build.Date + `"}` + "\n"; code != 0 || out != want {
		t.Fatalf("version --json: code %d, out %q, want %q", code, out, want)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{{"no-such-command"}, {"version", "--no-such-flag"}, {"version", "extra"}} {
		code, _, errOut := run(t, args...)
		if code != cmdutil.ExitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", args, code, cmdutil.ExitUsage, errOut)
		}
		if !strings.Contains(errOut, "--help") {
			t.Errorf("%v: stderr %q does not say how to get help", args, errOut)
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		code, out, errOut := run(t, "completion", shell)
		if code != 0 || !strings.Contains(out, "paragon") {
			t.Errorf("completion %s: exit %d, %d bytes, stderr %q", shell, code, len(out), errOut)
		}
	}
}

func testFactory() *cmdutil.Factory {
	ios, _, _, _ := iostreams.Test()
	return &cmdutil.Factory{IOStreams: ios}
}

// TestInterruptedExits130 checks the one rule for Ctrl-C: whatever error a
// command returns once the signal context is cancelled, paragon exits 130.
func TestInterruptedExits130(t *testing.T) {
	for _, interrupt := range []bool{true, false} {
		ios, _, _, errOut := iostreams.Test()
		f := &cmdutil.Factory{IOStreams: ios}
		ctx, cancel := context.WithCancel(context.Background())
		cmd := &cobra.Command{Use: "slow", SilenceErrors: true, SilenceUsage: true, RunE: func(c *cobra.Command, _ []string) error {
			if interrupt {
				cancel() // the user presses Ctrl-C while the command works
			}
			return errors.New("reading the answer: connection closed")
		}}
		want := cmdutil.ExitFailure
		if interrupt {
			want = cmdutil.ExitInterrupted
		}
		if code := Run(ctx, f, cmd, nil); code != want {
			t.Errorf("interrupted %v: exit %d, want %d", interrupt, code, want)
		}
		if errOut.String() != "paragon: reading the answer: connection closed\n" {
			t.Errorf("stderr %q", errOut)
		}
		cancel()
	}
}

// TestSubcommandTypos: a word that names no command of a group is a usage
// mistake (exit 2) with cobra's suggestions, in every group, as at the top
// level; a group alone still shows its help.
func TestSubcommandTypos(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"scenario", "rn"}, "unknown command \"rn\" for \"paragon scenario\"\n\nDid you mean this?\n\trun\n"},
		{[]string{"device", "regster", "--server", "http://127.0.0.1:1"}, "unknown command \"regster\" for \"paragon device\"\n\nDid you mean this?\n\tregister\n"},
		{[]string{"profile", "lst"}, "Did you mean this?\n\tlist\n"},
		{[]string{"docs", "mn", "dir"}, "Did you mean this?\n\tman\n"},
		{[]string{"completion", "bsh"}, "Did you mean this?\n\tbash\n"},
		{[]string{"help", "scenario", "rn"}, "unknown command \"rn\" for \"paragon scenario\"\n\nDid you mean this?\n\trun\n"},
		{[]string{"help", "vrsion"}, "unknown command \"vrsion\" for \"paragon\"\n\nDid you mean this?\n\tversion\n"},
		{[]string{"scenario", "xyzzy"}, "unknown command \"xyzzy\" for \"paragon scenario\"\nRun 'paragon scenario --help' for usage.\n"},
	} {
		code, out, errOut := run(t, tt.args...)
		if code != cmdutil.ExitUsage || out != "" || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", tt.args, code, out, errOut, tt.want)
		}
	}
	// Every group, found by walking the tree, refuses a typo.
	f := testFactory()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.HasSubCommands() {
				args := append(strings.Fields(strings.TrimPrefix(sub.CommandPath(), "paragon ")), "no-such-command")
				if code, _, errOut := run(t, args...); code != cmdutil.ExitUsage || !strings.Contains(errOut, "unknown command") {
					t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
				}
			}
			walk(sub)
		}
	}
	walk(NewCmdRoot(f))
	for group, args := range map[string][]string{"scenario": {"scenario"}, "profile": {"profile", "--help"}, "device": {"help", "device"}} {
		code, out, errOut := run(t, args...)
		if code != 0 || !strings.Contains(out, "Available Commands:") || errOut != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
		if strings.Contains(out, "\n  paragon "+group+" [command]\n") || !strings.Contains(out, "Usage:\n  paragon "+group+" COMMAND [flags]\n") {
			t.Errorf("%v: the usage is not the one Use line:\n%s", args, out)
		}
	}
}
