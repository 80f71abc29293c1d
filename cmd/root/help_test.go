package root

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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

// TestUseNamesArguments walks the command tree: a command that takes
// arguments names them in its Use line in capitals (`api [METHOD] PATH`,
// `profile remove NAME`, a group's COMMAND), never in <angle brackets>,
// which the man page generator drops as HTML; and the man page's synopsis
// shows them.
func TestUseNamesArguments(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios}
	root := NewCmdRoot(f)
	placeholder := regexp.MustCompile(`\b[A-Z][A-Z_]*\b`)
	synopses := map[string]string{} // man page file → the Use line it must show
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if !sub.IsAvailableCommand() {
				continue
			}
			walk(sub)
		}
		args := strings.TrimPrefix(c.Use, c.Name())
		if strings.ContainsAny(c.Use, "<>") {
			t.Errorf("%s: Use %q has <angle brackets>; name arguments in capitals", c.CommandPath(), c.Use)
		}
		if c.Args == nil && c.HasParent() {
			t.Errorf("%s: no Args validator: extra words would be ignored", c.CommandPath())
		}
		takesArgs := c.ValidateArgs([]string{"x"}) == nil || c.ValidateArgs([]string{"x", "y"}) == nil
		if takesArgs && !placeholder.MatchString(args) {
			t.Errorf("%s takes arguments, but Use %q does not name them", c.CommandPath(), c.Use)
		}
		if !takesArgs && placeholder.MatchString(args) {
			t.Errorf("%s takes no arguments, but Use %q names some", c.CommandPath(), c.Use)
		}
		if takesArgs {
			synopses[strings.ReplaceAll(c.CommandPath(), " ", "-")+".1"] = strings.TrimSuffix(c.UseLine(), " [flags]")
		}
	}
	walk(root)
	if len(synopses) < 5 {
		t.Fatalf("only %d commands take arguments: %v", len(synopses), synopses)
	}

	dir := t.TempDir()
	root.SetArgs([]string{"docs", "man", dir})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	for file, use := range synopses {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Error(err)
			continue
		}
		// go-md2man writes the synopsis in bold: \fBparagon api [METHOD] PATH [flags]\fP
		page := string(b)
		_, syn, _ := strings.Cut(page, ".SH SYNOPSIS\n")
		syn, _, _ = strings.Cut(syn, "\n.SH")
		if want := `\fB` + use + ` [flags]\fP`; !strings.Contains(syn, want) {
			t.Errorf("%s: synopsis %q lacks %q", file, syn, want)
		}
	}
}

// TestFlagDescriptions walks every flag: a flag that takes a value names it
// in capitals between backticks (pflag shows it as the value name in
// --help: --tag TAG, not --profile string), no description has
// <angle brackets> (the man pages drop them), and the descriptions the
// shells' completion menus show carry no backticks.
func TestFlagDescriptions(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	root := NewCmdRoot(&cmdutil.Factory{IOStreams: ios})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(fl *pflag.Flag) {
			if strings.ContainsAny(fl.Usage, "<>") {
				t.Errorf("%s --%s: description %q has <angle brackets>", c.CommandPath(), fl.Name, fl.Usage)
			}
			if fl.NoOptDefVal != "" || fl.Name == "help" {
				return // a switch: no value
			}
			name, _ := pflag.UnquoteUsage(fl)
			if strings.Count(fl.Usage, "`") != 2 || name != strings.ToUpper(name) {
				t.Errorf("%s --%s: --help shows the value as %q; name it in capitals between backticks in %q", c.CommandPath(), fl.Name, name, fl.Usage)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)

	for _, args := range [][]string{{"__complete", "scenario", "run", "--"}, {"__complete", "api", "-"}, {"__complete", "version", "--"}} {
		code, out, errOut := run(t, args...)
		if code != 0 || !strings.Contains(out, "--") {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
		if strings.Contains(out, "`") {
			t.Errorf("%v: completion descriptions show backticks:\n%s", args, out)
		}
	}
}
