// Package profile implements `paragon profile list|use|remove|migrate`: the named
// servers and accounts the CLI knows. Profiles are created by `paragon
// device register` and `paragon login` with --server.
package profile

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/config"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/cmd/internal/trust"
	"github.com/paragon-cli/paragon/keystore"
)

// NewCmdProfile returns the profile command group.
func NewCmdProfile(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profile COMMAND",
		Short: "List, select, remove profiles and move their secrets",
		Long: `A profile is one server and account: its URLs live in the config file
(` + "`os.UserConfigDir()/paragon/config.yml`" + `), its API key, device key and tokens in
the keystore. Create one with 'paragon device register --server URL' or
'paragon login --server URL'; pick one per command with --profile or
PARAGON_PROFILE.`,
		Example: `  $ paragon profile list
  $ paragon profile use staging
  $ paragon profile remove old
  $ paragon profile migrate --keystore keyring`,
	}
	cmd.AddCommand(NewCmdList(f, nil), NewCmdUse(f, nil), NewCmdRemove(f, nil), NewCmdMigrate(f, nil))
	return cmd
}

// ListOptions holds what `profile list` needs.
type ListOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Config, error)
	// Selected returns the profile in use.
	Selected func() (string, error)
	JSON     bool
}

// NewCmdList returns `profile list`. runF replaces the run function in tests.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, Config: f.Config, Selected: func() (string, error) {
		n, _, err := f.ProfileName()
		return n, err
	}}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List profiles",
		Args:    cobra.NoArgs,
		Example: `  $ paragon profile list
  $ paragon profile list --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

type profileJSON struct {
	Name     string `json:"name"`
	Server   string `json:"server"`
	OAuthURL string `json:"oauth_url"`
	Keystore string `json:"keystore,omitempty"`
	Current  bool   `json:"current"`
}

func listRun(_ context.Context, opts *ListOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	sel, err := opts.Selected()
	if err != nil {
		return err
	}
	var rows []profileJSON
	for _, n := range cfg.Names() {
		p, _ := cfg.Profile(n)
		rows = append(rows, profileJSON{Name: n, Server: p.Server, OAuthURL: p.OAuthBase(), Keystore: p.Keystore, Current: n == sel})
	}
	if opts.JSON {
		if rows == nil {
			rows = []profileJSON{}
		}
		return cmdutil.WriteJSON(opts.IO, rows)
	}
	if len(rows) == 0 {
		if opts.IO.IsStdoutTTY() {
			fmt.Fprintln(opts.IO.ErrOut, "No profiles yet. Create one with: paragon device register --server URL --api-key-stdin")
		}
		return nil
	}
	// On a terminal a mark and the name share a column; piped, the last
	// column says "current".
	tty := opts.IO.IsStdoutTTY()
	cs := opts.IO.ColorScheme()
	t := iostreams.NewTable("  NAME", "SERVER", "OAUTH", "KEYSTORE")
	for _, r := range rows {
		if !tty {
			cur := ""
			if r.Current {
				cur = "current"
			}
			t.AddRow(r.Name, r.Server, r.OAuthURL, r.Keystore, cur)
			continue
		}
		name, ks := "  "+r.Name, r.Keystore
		if r.Current {
			name = "* " + cs.Bold(r.Name)
		}
		if ks == keystore.ChoiceFile {
			ks = cs.Yellow(ks)
		}
		t.AddRow(name, r.Server, r.OAuthURL, ks)
	}
	return opts.IO.WriteTable(t)
}

// UseOptions holds what `profile use` needs.
type UseOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Config, error)
	Name   string
}

// NewCmdUse returns `profile use`.
func NewCmdUse(f *cmdutil.Factory, runF func(context.Context, *UseOptions) error) *cobra.Command {
	opts := &UseOptions{IO: f.IOStreams, Config: f.Config}
	return &cobra.Command{
		Use:               "use NAME",
		Short:             "Make a profile the current one",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: cmdutil.CompleteProfileArg(f),
		Example:           `  $ paragon profile use staging`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return useRun(cmd.Context(), opts)
		},
	}
}

func useRun(_ context.Context, opts *UseOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	if _, ok := cfg.Profile(opts.Name); !ok {
		return unknown(cfg, opts.Name)
	}
	cfg.Current = opts.Name
	if err := cfg.Save(); err != nil {
		return err
	}
	if opts.IO.IsStderrTTY() {
		cs := opts.IO.ColorSchemeStderr()
		fmt.Fprintf(opts.IO.ErrOut, "%s Now using profile %s\n", cs.SuccessIcon(), cs.Bold(opts.Name))
	}
	return nil
}

func unknown(cfg *config.Config, name string) error {
	return cmdutil.UnknownProfile(cfg.Names(), name)
}

// RemoveOptions holds what `profile remove` needs.
type RemoveOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Config, error)
	Store  func(*config.Profile) (*keystore.Layered, keystore.Notice, error)
	Name   string
}

// NewCmdRemove returns `profile remove`.
func NewCmdRemove(f *cmdutil.Factory, runF func(context.Context, *RemoveOptions) error) *cobra.Command {
	opts := &RemoveOptions{IO: f.IOStreams, Config: f.Config, Store: f.Store}
	return &cobra.Command{
		Use:     "remove NAME",
		Aliases: []string{"rm"},
		Short:   "Remove a profile and every secret stored for it",
		Long: `Remove a profile from the config file and delete its API key, device key and
tokens from the keystore. The server is not told: an administrator can
remove the device there.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: cmdutil.CompleteProfileArg(f),
		Example:           `  $ paragon profile remove staging`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return removeRun(cmd.Context(), opts)
		},
	}
}

func removeRun(_ context.Context, opts *RemoveOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	p, ok := cfg.Profile(opts.Name)
	if !ok {
		return unknown(cfg, opts.Name)
	}
	st, _, err := opts.Store(p)
	if err != nil {
		return err
	}
	for _, item := range append(keystore.Items, trust.ItemDeviceCode) {
		if err := st.Store.Delete(opts.Name, item); err != nil {
			return fmt.Errorf("deleting the secrets of profile %q: %w", opts.Name, err)
		}
	}
	cfg.RemoveProfile(opts.Name)
	if err := cfg.Save(); err != nil {
		return err
	}
	if opts.IO.IsStderrTTY() {
		cs := opts.IO.ColorSchemeStderr()
		fmt.Fprintf(opts.IO.ErrOut, "%s Removed profile %s and its secrets (%s)\n", cs.SuccessIcon(), cs.Bold(opts.Name), st.Name())
	}
	return nil
}
