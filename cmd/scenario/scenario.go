// Package scenario implements `paragon scenario`: run the compliance
// scenarios against the embedded reference server or an outside one, list
// them, and validate scenario files.
package scenario

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/scenarios"
)

// NewCmdScenario returns the `scenario` command group.
func NewCmdScenario(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scenario COMMAND",
		Short: "Check a server against the protocol with compliance scenarios",
		Long: `Run compliance scenarios: YAML files of protocol steps and expectations,
each naming the rule it checks. With no files, the built-in suite runs against
an embedded reference server; --server points it at any other server.`,
		Example: `  $ paragon scenario run
  $ paragon scenario run --server https://eu.example.com:7300 --api-key "$KEY"
  $ paragon scenario list --tag refresh
  $ paragon scenario validate suites/`,
	}
	cmd.AddCommand(NewCmdRun(f, nil))
	cmd.AddCommand(NewCmdList(f, nil))
	cmd.AddCommand(NewCmdValidate(f, nil))
	cmd.AddCommand(NewCmdExplore(f, nil))
	return cmd
}

// load reads the scenarios in paths, or the built-in suite when there are
// none. Problems in the files come back as a usage error (exit 2) after
// each is printed to w as file:line:column: message. vars names the
// variables given with --var and --vars-file.
func load(ctx context.Context, paths []string, w io.Writer, vars []string) ([]*scenarios.Scenario, error) {
	var list []*scenarios.Scenario
	var err error
	if len(paths) == 0 {
		list, err = scenarios.Builtin()
	} else {
		list, err = scenarios.LoadPathsWith(ctx, paths, scenarios.LoadOptions{Vars: vars})
	}
	if err == nil {
		return list, nil
	}
	if ctx.Err() != nil {
		return nil, err // Ctrl-C or SIGTERM: the root command says so
	}
	var ve *scenarios.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Fprintln(w, p.String())
		}
		return nil, &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: fmt.Errorf("%s in the scenario files", plural(len(ve.Problems), "problem", "problems"))}
	}
	return nil, &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: err}
}

// selectScenarios keeps the scenarios of all that --tag and --name select.
// When filters select none, that is a usage error saying which filter
// matched nothing (a tag no scenario has, with the tags there are; or names
// that match none) rather than a run or a list of nothing.
func selectScenarios(all []*scenarios.Scenario, tags, names []string) ([]*scenarios.Scenario, error) {
	list := scenarios.Select(all, scenarios.Selection{Tags: tags, Names: names})
	if len(list) > 0 || len(tags)+len(names) == 0 {
		return list, nil
	}
	known := suiteTags(all)
	var unknown []string
	for _, t := range tags {
		if !slices.Contains(known, t) {
			unknown = append(unknown, strconv.Quote(t))
		}
	}
	var msg string
	switch {
	case len(unknown) > 0:
		noun := "the tag"
		if len(unknown) > 1 {
			noun = "the tags"
		}
		msg = fmt.Sprintf("no scenario has %s %s; the tags are: %s", noun, strings.Join(unknown, ", "), strings.Join(known, ", "))
	case len(tags) > 0:
		msg = fmt.Sprintf("no scenario with --tag %s has a name matching --name %s", strings.Join(tags, ","), strings.Join(names, ","))
	default:
		msg = fmt.Sprintf("no scenario name contains or matches --name %s (see paragon scenario list)", strings.Join(names, ","))
	}
	return nil, &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: errors.New(msg)}
}

// suiteTags lists the tags the scenarios have, sorted, each once.
func suiteTags(list []*scenarios.Scenario) []string {
	var tags []string
	for _, s := range list {
		tags = append(tags, s.Tags...)
	}
	slices.Sort(tags)
	return slices.Compact(tags)
}

// completeSelection makes --tag and --name complete the tags and names of
// the suite the command would read: the PATHs typed so far, else the
// built-in one. Names are those with the --tag values already given.
func completeSelection(cmd *cobra.Command) {
	suite := func(args []string) []*scenarios.Scenario {
		vars, _ := cmd.Flags().GetStringArray("var") // names only: enough to read files that use them
		var names []string
		for _, v := range vars {
			name, _, _ := strings.Cut(v, "=")
			names = append(names, name)
		}
		if file, _ := cmd.Flags().GetString("vars-file"); file != "" {
			if fromFile, err := scenarios.ReadVarsFile(file); err == nil {
				names = append(names, varNames(fromFile)...)
			}
		}
		list, err := load(context.Background(), args, io.Discard, names)
		if err != nil {
			return nil
		}
		return list
	}
	_ = cmd.RegisterFlagCompletionFunc("tag", func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var out []cobra.Completion
		for _, t := range suiteTags(suite(args)) {
			if strings.HasPrefix(t, toComplete) {
				out = append(out, t)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.RegisterFlagCompletionFunc("name", func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		tags, _ := c.Flags().GetStringArray("tag")
		var out []cobra.Completion
		for _, sc := range scenarios.Select(suite(args), scenarios.Selection{Tags: tags}) {
			if strings.HasPrefix(sc.Name, toComplete) {
				out = append(out, cobra.CompletionWithDesc(sc.Name, oneLine(sc.Description)))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	})
}

// noFileCompletion stops the shell offering file names for flags whose
// values are not files (URLs, keys, numbers).
func noFileCompletion(cmd *cobra.Command, names ...string) {
	for _, n := range names {
		_ = cmd.RegisterFlagCompletionFunc(n, cobra.NoFileCompletions)
	}
}

// terminalWidth is the width of w when it is a terminal, else 0.
func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok {
		return 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return width
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
