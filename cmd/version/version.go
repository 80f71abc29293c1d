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
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of paragon",
		Args:  cobra.NoArgs,
		Example: `  $ paragon version
  $ paragon version --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if jsonOut {
				return cmdutil.WriteJSON(f.IOStreams, struct {
					Version string `json:"version"`
					Commit  string `json:"commit"`
					Date    string `json:"date"`
				}{build.Version, build.Commit, build.Date})
			}
			_, err := fmt.Fprint(f.IOStreams.Out, Format(build.Version, build.Commit, build.Date))
			return err
		},
	}
	cmdutil.AddJSONFlag(cmd, &jsonOut)
	return cmd
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
