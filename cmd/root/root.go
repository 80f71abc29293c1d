// Package root builds the paragon command tree and runs it: Main is the
// only place that turns errors into exit codes and messages.
package root

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/paragon-cli/paragon/cmd/api"
	"github.com/paragon-cli/paragon/cmd/auth"
	"github.com/paragon-cli/paragon/cmd/device"
	"github.com/paragon-cli/paragon/cmd/docs"
	"github.com/paragon-cli/paragon/cmd/internal/build"
	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/early"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/cmd/profile"
	"github.com/paragon-cli/paragon/cmd/scenario"
	"github.com/paragon-cli/paragon/cmd/serve"
	"github.com/paragon-cli/paragon/cmd/version"
)

// NewCmdRoot returns the root command with every command group attached.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "paragon COMMAND [flags]",
		Short: "Dispatcher Paragon Cloud API client and protocol tester",
		Long: `Work with the token authentication of the Dispatcher Paragon Cloud
(YSoft SAFEQ Cloud) public API: trust a device, log in, call the API with
tokens that refresh themselves, check a server against the protocol, and run
a reference server for tests.`,
		Example: `  $ paragon server        # in one terminal; then, in another:
  $ paragon device register --server http://127.0.0.1:7300 --api-key-stdin <<< paragon-dev-key
  $ paragon login --user alice
  $ paragon api version
  $ paragon scenario run`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       build.Version,
	}
	cmd.SetVersionTemplate(version.Format(build.Version, build.Commit, build.Date))
	cmd.SetOut(f.IOStreams.Out)
	cmd.SetErr(f.IOStreams.ErrOut)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		// `paragon device regster --server URL`: the typo, not the
		// flag the group does not know, is the mistake.
		if isGroup(c) && c.Flags().NArg() > 0 {
			return unknownSubcommand(c, c.Flags().Arg(0))
		}
		return &cmdutil.FlagError{Err: err}
	})
	cmdutil.AddGlobalFlags(cmd, f)

	cmd.AddCommand(version.NewCmdVersion(f))
	cmd.AddCommand(profile.NewCmdProfile(f))
	cmd.AddCommand(api.NewCmdAPI(f, nil))
	cmd.AddCommand(device.NewCmdDevice(f))
	cmd.AddCommand(auth.NewCmdLogin(f, nil), auth.NewCmdLogout(f, nil), auth.NewCmdStatus(f, nil), auth.NewCmdToken(f, nil))
	cmd.AddCommand(serve.NewCmdServer(f))
	cmd.AddCommand(docs.NewCmdDocs(f))
	cmd.AddCommand(scenario.NewCmdScenario(f))
	addCompletionExamples(cmd)
	rejectUnknownSubcommands(cmd)
	return cmd
}

// rejectUnknownSubcommands makes every command group below root refuse a
// word that names none of its commands: cobra checks only the root's, and
// would print the group's help and exit 0 for `paragon scenario rn`. Each
// group runs this instead: help when called alone, else exit 2 with cobra's
// own "Did you mean this?" suggestions, as for a top-level typo.
func rejectUnknownSubcommands(root *cobra.Command) {
	// `paragon help scenario rn` is the same mistake as `paragon scenario rn`.
	root.InitDefaultHelpCmd()
	if help, _, err := root.Find([]string{"help"}); err == nil && help != root {
		show := help.Run
		help.Use = "help [COMMAND]"
		help.Run = nil
		help.RunE = func(c *cobra.Command, args []string) error {
			target, rest, err := c.Root().Find(args)
			switch {
			case err != nil:
				return &cmdutil.FlagError{Err: err}
			case len(rest) > 0 && target.HasSubCommands():
				return unknownSubcommand(target, rest[0])
			}
			show(c, args)
			return nil
		}
	}
	// A group's usage is its Use line alone (`paragon scenario COMMAND`),
	// not that and cobra's "paragon scenario [command]" as well.
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(),
		"Usage:{{if .Runnable}}\n  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}\n  {{.CommandPath}} [command]{{end}}",
		"Usage:\n  {{.UseLine}}", 1))
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.HasSubCommands() && !sub.Runnable() {
				if sub.Annotations == nil {
					sub.Annotations = map[string]string{}
				}
				sub.Annotations[groupAnnotation] = "true"
				if sub.SuggestionsMinimumDistance <= 0 {
					sub.SuggestionsMinimumDistance = 2 // cobra's default, set only when it checks the root
				}
				sub.Args = cobra.ArbitraryArgs
				sub.RunE = func(c *cobra.Command, args []string) error {
					if len(args) == 0 {
						return c.Help()
					}
					return unknownSubcommand(c, args[0])
				}
			}
			walk(sub)
		}
	}
	walk(root)
}

// groupAnnotation marks the command groups rejectUnknownSubcommands set up.
const groupAnnotation = "paragon:group"

// isGroup reports whether c is a command group below root: it only holds
// other commands.
func isGroup(c *cobra.Command) bool {
	return c.Annotations[groupAnnotation] != ""
}

// unknownSubcommand is the usage error for a word that names no command of
// group c, worded as cobra words it for the root.
func unknownSubcommand(c *cobra.Command, arg string) error {
	msg := fmt.Sprintf("unknown command %q for %q", arg, c.CommandPath())
	if suggestions := c.SuggestionsFor(arg); len(suggestions) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(suggestions, "\n\t") + "\n"
	}
	return &cmdutil.FlagError{Err: errors.New(msg)}
}

// addCompletionExamples creates cobra's `completion` command now, rather
// than at Execute, to give it and each shell's command an Example block
// like every other command.
func addCompletionExamples(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	comp, _, err := root.Find([]string{"completion"})
	if err != nil || comp == root {
		return
	}
	comp.Use = "completion SHELL"
	comp.Example = `  $ source <(paragon completion bash)
  $ paragon completion zsh > "${fpath[1]}/_paragon"`
	examples := map[string]string{
		"bash":       "  $ source <(paragon completion bash)\n  $ paragon completion bash > /etc/bash_completion.d/paragon",
		"zsh":        `  $ paragon completion zsh > "${fpath[1]}/_paragon"`,
		"fish":       "  $ paragon completion fish > ~/.config/fish/completions/paragon.fish",
		"powershell": "  PS> paragon completion powershell | Out-String | Invoke-Expression",
	}
	for _, sub := range comp.Commands() {
		sub.Example = examples[sub.Name()]
	}
}

// Main runs paragon with the process's arguments and returns its exit code.
func Main() int {
	ios := iostreams.System()
	f := &cmdutil.Factory{IOStreams: ios, EarlyRead: early.Take}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, f, NewCmdRoot(f), os.Args[1:])
}

// Run executes cmd with args and reports any error on stderr.
func Run(ctx context.Context, f *cmdutil.Factory, cmd *cobra.Command, args []string) int {
	if len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd) {
		plainFlagUsages(cmd)
	}
	cmd.SetArgs(args)
	executed, err := cmd.ExecuteContextC(ctx)
	if err == nil {
		return cmdutil.ExitOK
	}
	if msg := cmdutil.Message(err); msg != "" {
		fmt.Fprintln(f.IOStreams.ErrOut, "paragon:", msg)
	}
	if ctx.Err() != nil {
		return cmdutil.ExitInterrupted // stopped by Ctrl-C or SIGTERM, whatever the command made of it
	}
	var fe *cmdutil.FlagError
	if errors.As(err, &fe) || isCobraUsageError(err) {
		if executed != nil {
			fmt.Fprintf(f.IOStreams.ErrOut, "Run '%s --help' for usage.\n", executed.CommandPath())
		}
		return cmdutil.ExitUsage
	}
	return cmdutil.ExitCode(err)
}

// plainFlagUsages takes the backticks out of every flag's description. In
// --help, pflag shows a `WORD` of the description as the flag's value name
// (--tag TAG) and drops the backticks; the shells' completion menus show the
// description as it is, so for them the backticks go.
func plainFlagUsages(root *cobra.Command) {
	unquote := func(fl *pflag.Flag) { fl.Usage = strings.ReplaceAll(fl.Usage, "`", "") }
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(unquote)
		c.PersistentFlags().VisitAll(unquote)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// isCobraUsageError recognises the errors cobra itself returns for unknown
// commands and bad arguments, which are usage mistakes.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, prefix := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "requires at most", "invalid argument"} {
		if len(msg) >= len(prefix) && msg[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}
