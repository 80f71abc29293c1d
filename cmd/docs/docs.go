// Package docs implements `paragon docs`, which generates the reference
// documentation shipped in release archives (man pages, Markdown) from the
// command tree itself, so it cannot drift from the binary.
package docs

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/paragon-cli/paragon/cmd/internal/build"
	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
)

// NewCmdDocs returns the docs command group.
func NewCmdDocs(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "docs COMMAND",
		Short: "Generate man pages and Markdown reference for paragon",
		Args:  cobra.NoArgs,
		Example: `  $ paragon docs man ./man
  $ man -l ./man/paragon.1`,
	}
	cmd.AddCommand(newCmdMan(f), newCmdMarkdown(f))
	return cmd
}

func newCmdMan(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "man DIR",
		Short: "Write a man page for every command into DIR",
		Long: `Write a man page for every visible command into DIR, named after the
command (paragon-scenario-run.1). The date in the pages is SOURCE_DATE_EPOCH
when it is set, so release builds are reproducible, else today.`,
		Args: cobra.ExactArgs(1),
		Example: `  $ paragon docs man ./man
  $ man -l ./man/paragon-login.1`,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("cannot create %s: %w", dir, err)
			}
			date, err := manDate(f)
			if err != nil {
				return err
			}
			// No Title: cobra names each page after its command
			// (PARAGON-SCENARIO-RUN), as man(1) shows in the header.
			header := &doc.GenManHeader{
				Section: "1",
				Date:    &date,
				Source:  "paragon " + build.Version,
				Manual:  "paragon manual",
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true
			if err := doc.GenManTree(root, header, dir); err != nil {
				return fmt.Errorf("writing man pages: %w", err)
			}
			fmt.Fprintf(f.IOStreams.ErrOut, "Man pages written to %s\n", dir)
			return nil
		},
	}
}

// manDate is the date printed in the man pages: SOURCE_DATE_EPOCH (seconds
// since 1970, the reproducible-builds convention that release builds set to
// the commit's time) when set, else today.
func manDate(f *cmdutil.Factory) (time.Time, error) {
	v := f.Env("SOURCE_DATE_EPOCH")
	if v == "" {
		return f.Clock().UTC(), nil
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH must be a number of seconds since 1970, not %q", v)
	}
	return time.Unix(sec, 0).UTC(), nil
}

func newCmdMarkdown(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "markdown DIR",
		Short:   "Write a Markdown page for every command into DIR",
		Args:    cobra.ExactArgs(1),
		Example: `  $ paragon docs markdown ./docs/reference`,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("cannot create %s: %w", dir, err)
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true
			if err := doc.GenMarkdownTree(root, dir); err != nil {
				return fmt.Errorf("writing Markdown pages: %w", err)
			}
			fmt.Fprintf(f.IOStreams.ErrOut, "Markdown pages written to %s\n", dir)
			return nil
		},
	}
}
