package auth

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/cmd/internal/trust"
	"github.com/paragon-cli/paragon/keystore"
)

// LogoutOptions holds what `paragon logout` needs.
type LogoutOptions struct {
	IO          *iostreams.IOStreams
	OpenSession func(ctx context.Context, ov *cmdutil.ProfileOverrides) (*cmdutil.Session, error)
	All         bool
}

var userItems = []string{keystore.ItemUserAccessToken, keystore.ItemUserRefreshToken, keystore.ItemUserName}

// NewCmdLogout returns `paragon logout`.
func NewCmdLogout(f *cmdutil.Factory, runF func(context.Context, *LogoutOptions) error) *cobra.Command {
	opts := &LogoutOptions{IO: f.IOStreams, OpenSession: f.OpenSession}
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Delete the user's tokens from the keystore",
		Long: `Delete the profile's user tokens from the keystore. With --all the device's key
and tokens go too, so the next login needs a new device registration. The
profile's server settings and API key stay (see 'paragon profile remove').`,
		Example: `  $ paragon logout
  $ paragon logout --all --profile staging`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return logoutRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.All, "all", false, "Also forget the device (its key and tokens)")
	return cmd
}

func logoutRun(ctx context.Context, opts *LogoutOptions) error {
	s, err := opts.OpenSession(ctx, nil)
	if err != nil {
		return err
	}
	tok, err := s.StoredUserToken()
	if err != nil {
		return err
	}
	user, _ := s.Store.Store.Get(s.Name, keystore.ItemUserName)
	if err := s.DeleteItems(userItems...); err != nil {
		return err
	}
	cs := opts.IO.ColorSchemeStderr()
	switch {
	case tok == nil:
		fmt.Fprintf(opts.IO.ErrOut, "Profile %s was not logged in.\n", s.Name)
	case user != "":
		fmt.Fprintf(opts.IO.ErrOut, "%s Logged out %s (profile %s).\n", cs.SuccessIcon(), user, s.Name)
	default:
		fmt.Fprintf(opts.IO.ErrOut, "%s Logged out (profile %s).\n", cs.SuccessIcon(), s.Name)
	}
	if opts.All {
		id, err := s.DeviceID()
		if err != nil {
			return err
		}
		if err := s.DeleteItems(trust.Items...); err != nil {
			return err
		}
		if id != "" {
			fmt.Fprintf(opts.IO.ErrOut, "%s Forgot device %s; an administrator can remove it at %s/admin.\n", cs.SuccessIcon(), id, s.Profile.OAuthBase())
		}
	}
	if v := s.EnvToken(); v != "" {
		fmt.Fprintf(opts.IO.ErrOut, "%s %s is still set in the environment and keeps working: unset it too.\n", cs.WarningIcon(), keystore.EnvToken)
	}
	return nil
}
