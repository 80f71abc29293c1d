package scenario

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
)

// ValidateOptions is what `paragon scenario validate` needs.
type ValidateOptions struct {
	IO    *iostreams.IOStreams
	Paths []string
}

// NewCmdValidate returns `paragon scenario validate`. runF replaces the run
// function in tests.
func NewCmdValidate(f *cmdutil.Factory, runF func(context.Context, *ValidateOptions) error) *cobra.Command {
	opts := &ValidateOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "validate [PATH...]",
		Args:  cobra.ArbitraryArgs,
		Short: "Check scenario files without running them",
		Long: `Read scenario files (files, directories or globs; with no PATH the built-in
suite) and report every problem as file:line:column: message, one a line, the
form editors and CI annotations understand. Exit status 2 if any.`,
		Example: `  $ paragon scenario validate suites/
  $ paragon scenario validate 'suites/login-*.yaml'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return validateRun(cmd.Context(), opts)
		},
	}
	return cmd
}

func validateRun(ctx context.Context, opts *ValidateOptions) error {
	list, err := load(ctx, opts.Paths, opts.IO.Out)
	if err != nil {
		return err
	}
	files := map[string]bool{}
	for _, s := range list {
		files[s.File] = true
	}
	fmt.Fprintf(opts.IO.Out, "%s in %s: valid\n", plural(len(list), "scenario", "scenarios"), plural(len(files), "file", "files"))
	return nil
}
