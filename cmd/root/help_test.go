package root

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
)

// TestEveryCommandHasHelp walks the command tree: every command a user can
// run has a one-line Short without a full stop and an Example block showing
// `$ paragon …`.
func TestEveryCommandHasHelp(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" {
				continue
			}
			walk(sub)
		}
		if c.Short == "" || c.Short[len(c.Short)-1] == '.' {
			t.Errorf("%s: Short %q must be a sentence without a full stop", c.CommandPath(), c.Short)
		}
		if !strings.Contains(c.Example, "$ paragon ") && !strings.Contains(c.Example, "PS> paragon ") {
			t.Errorf("%s: no Example block showing $ paragon … (PS> paragon … for PowerShell)", c.CommandPath())
		}
	}
	walk(NewCmdRoot(f))
}

// TestGlobalFlags checks the persistent flags every command accepts.
func TestGlobalFlags(t *testing.T) {
	for _, args := range [][]string{
		{"version", "--profile", "p", "--keystore", "file", "--insecure-storage", "--debug", "--no-color", "--cacert", "x.pem", "--insecure"},
	} {
		code, _, errOut := run(t, args...)
		if code != 0 {
			t.Errorf("%v: exit %d: %s", args, code, errOut)
		}
	}
	ios, _, _, _ := iostreams.Test()
	ios.SetTTY(true)
	f := &cmdutil.Factory{IOStreams: ios}
	cmd := NewCmdRoot(f)
	cmd.SetArgs([]string{"version", "--no-color"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if ios.ColorEnabled() {
		t.Error("--no-color left colour on")
	}
	if f.Globals.Profile != "" {
		t.Error("profile set without the flag")
	}
}
