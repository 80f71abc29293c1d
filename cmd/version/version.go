// Package version implements `paragon version`.
package version

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/build"
	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
)

// NewCmdVersion returns the version command.
func NewCmdVersion(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version of paragon",
		Args:    cobra.NoArgs,
		Example: `  $ paragon version`,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprint(f.IOStreams.Out, Format(build.Version, build.Commit, build.Date))
			return err
		},
	}
}

// Format renders the version line shown by `paragon version` and `--version`.
func Format(version, commit, date string) string {
	s := "paragon version " + version
	if commit != "unknown" && commit != "none" && commit != "" {
		s += " (commit " + commit
		if date != "unknown" && date != "" {
			s += ", built " + date
		}
		s += ")"
	}
	return s + "\n"
}
