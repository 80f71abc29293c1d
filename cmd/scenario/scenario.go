// Package scenario implements `paragon scenario`: run the compliance
// scenarios against the embedded reference server or an outside one, list
// them, and validate scenario files.
package scenario

import (
	"errors"
	"fmt"
	"io"
	"os"

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
// each is printed to w as file:line:column: message.
func load(paths []string, w io.Writer) ([]*scenarios.Scenario, error) {
	var list []*scenarios.Scenario
	var err error
	if len(paths) == 0 {
		list, err = scenarios.Builtin()
	} else {
		list, err = scenarios.LoadPaths(paths)
	}
	if err == nil {
		return list, nil
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
