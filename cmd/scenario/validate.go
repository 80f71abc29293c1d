package scenario

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/scenarios"
)

// ValidateOptions is what `paragon scenario validate` needs.
type ValidateOptions struct {
	IO    *iostreams.IOStreams
	Paths []string
	Vars  []scenarios.Variable // --var, --vars-file
}

// NewCmdValidate returns `paragon scenario validate`. runF replaces the run
// function in tests.
func NewCmdValidate(f *cmdutil.Factory, runF func(context.Context, *ValidateOptions) error) *cobra.Command {
	opts := &ValidateOptions{IO: f.IOStreams}
	var vf varFlags
	cmd := &cobra.Command{
		Use:   "validate [PATH...]",
		Args:  cobra.ArbitraryArgs,
		Short: "Check scenario files without running them",
		Long: `Read scenario files (files, directories or globs; with no PATH the built-in
suite) and report every problem as file:line:column: message, one a line, the
form editors and CI annotations understand. Exit status 2 if any.

A ${NAME} that is not captured, built in or upper case (an environment
variable) is a problem unless --var or --vars-file gives NAME, as for run.`,
		Example: `  $ paragon scenario validate suites/
  $ paragon scenario validate 'suites/login-*.yaml'
  $ paragon scenario validate suites/ --vars-file staging.yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			vars, err := vf.resolve(opts.IO.Out)
			if err != nil {
				return err
			}
			opts.Vars = vars
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return validateRun(cmd.Context(), opts)
		},
	}
	vf.add(cmd)
	return cmd
}

func validateRun(ctx context.Context, opts *ValidateOptions) error {
	list, err := load(ctx, opts.Paths, opts.IO.Out, varNames(opts.Vars))
	if err != nil {
		return err
	}
	files := map[string]bool{}
	hooks := map[*scenarios.FileHooks]bool{}
	for _, s := range list {
		files[s.File] = true
		if s.Hooks != nil {
			hooks[s.Hooks] = true
		}
	}
	with := ""
	if len(hooks) > 0 {
		with = fmt.Sprintf(" (%d with setup or teardown)", len(hooks))
	}
	fmt.Fprintf(opts.IO.Out, "%s in %s%s: valid\n", plural(len(list), "scenario", "scenarios"), plural(len(files), "file", "files"), with)
	return nil
}
