package scenario

import (
	"context"
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"
	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/scenarios"
)

// ListOptions is what `paragon scenario list` needs.
type ListOptions struct {
	IO    *iostreams.IOStreams
	Paths []string
	Tags  []string
	Names []string
	JSON  bool
	Vars  []scenarios.Variable // --var, --vars-file
}

// NewCmdList returns `paragon scenario list`. runF replaces the run function
// in tests.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams}
	var vf varFlags
	cmd := &cobra.Command{
		Use:   "list [PATH...]",
		Args:  cobra.ArbitraryArgs,
		Short: "List scenarios with their tags and the rule each checks",
		Long: `List the scenarios in the given files, directories or globs, or with no PATH
the built-in suite: name, tags and rule. On a terminal this is a table; piped,
it is one scenario a line with tab-separated fields (tags comma-separated).`,
		Example: `  $ paragon scenario list
  $ paragon scenario list --tag login --name refresh
  $ paragon scenario list suites/ --json | jq -r '.[].name'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			vars, err := vf.resolve(opts.IO.ErrOut)
			if err != nil {
				return err
			}
			opts.Vars = vars
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringArrayVar(&opts.Tags, "tag", nil, "List only scenarios with this `TAG` (repeatable)")
	cmd.Flags().StringArrayVar(&opts.Names, "name", nil, "List only scenarios whose name contains or matches this `PATTERN` (repeatable)")
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	vf.add(cmd)
	completeSelection(cmd)
	return cmd
}

// listEntry is one scenario in `list --json`.
type listEntry struct {
	Name        string   `json:"name"`
	File        string   `json:"file"`
	Line        int      `json:"line"`
	Description string   `json:"description,omitempty"`
	Rule        string   `json:"rule"`
	Severity    string   `json:"severity"`
	Needs       []string `json:"needs"`
	Tags        []string `json:"tags"`
	// FileHooks names what its file runs once around its scenarios:
	// "setup", "teardown" (omitted when neither).
	FileHooks []string `json:"file_hooks,omitempty"`
}

// fileHooks is what a scenario's file runs once around its scenarios.
func fileHooks(s *scenarios.Scenario) []string {
	var out []string
	if h := s.Hooks; h != nil {
		if h.Setup != nil {
			out = append(out, scenarios.HookSetup)
		}
		if h.Teardown != nil {
			out = append(out, scenarios.HookTeardown)
		}
	}
	return out
}

func listRun(ctx context.Context, opts *ListOptions) error {
	all, err := load(ctx, opts.Paths, opts.IO.ErrOut, varNames(opts.Vars))
	if err != nil {
		return err
	}
	list, err := selectScenarios(all, opts.Tags, opts.Names)
	if err != nil {
		return err
	}
	out := opts.IO.Out
	if opts.JSON {
		entries := make([]listEntry, 0, len(list))
		for _, s := range list {
			sev := s.Severity
			if sev == "" {
				sev = scenarios.SeverityFailure
			}
			entries = append(entries, listEntry{
				Name: s.Name, File: s.File, Line: s.Line, Description: s.Description, Rule: s.Rule,
				Severity: sev, Needs: append([]string{}, s.Needs...), Tags: append([]string{}, s.Tags...),
				FileHooks: fileHooks(s),
			})
		}
		return cmdutil.WriteJSON(opts.IO, entries)
	}
	t := iostreams.NewTable("NAME", "TAGS", "RULE")
	if !opts.IO.IsStdoutTTY() {
		for _, s := range list {
			t.AddRow(s.Name, strings.Join(s.Tags, ","), oneLine(s.Rule))
		}
		return opts.IO.WriteTable(t)
	}
	// On a terminal the rule is cut to what is left of its width.
	nameW, tagW := len("NAME"), len("TAGS")
	for _, s := range list {
		nameW = max(nameW, ansi.StringWidth(s.Name))
		tagW = max(tagW, ansi.StringWidth(strings.Join(s.Tags, ",")))
	}
	width := terminalWidth(out)
	if width <= 0 {
		width = 120
	}
	ruleW := max(width-nameW-tagW-4, 20)
	for _, s := range list {
		t.AddRow(s.Name, strings.Join(s.Tags, ","), ansi.Truncate(oneLine(s.Rule), ruleW, "…"))
	}
	if err := opts.IO.WriteTable(t); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "%s\n", plural(len(list), "scenario", "scenarios"))
	seen := map[*scenarios.FileHooks]bool{}
	for _, s := range list {
		if hs := fileHooks(s); len(hs) > 0 && !seen[s.Hooks] {
			seen[s.Hooks] = true
			fmt.Fprintf(opts.IO.ErrOut, "%s runs %s once around its scenarios\n", s.File, strings.Join(hs, " and "))
		}
	}
	return nil
}

// oneLine folds text onto a single line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
