package device

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/cmd/internal/trust"
)

// ForgetOptions holds what `device forget` needs.
type ForgetOptions struct {
	IO          *iostreams.IOStreams
	OpenSession func(ctx context.Context, ov *cmdutil.ProfileOverrides) (*cmdutil.Session, error)
}

// NewCmdForget returns `device forget`.
func NewCmdForget(f *cmdutil.Factory, runF func(context.Context, *ForgetOptions) error) *cobra.Command {
	opts := &ForgetOptions{IO: f.IOStreams, OpenSession: f.OpenSession}
	return &cobra.Command{
		Use:   "forget",
		Short: "Delete this device's key and tokens",
		Long: `Delete the profile's device id, private key and device tokens from the
keystore. The user's login is kept. The server still lists the device until
an administrator removes it; registering again creates a new device.`,
		Example: `  $ paragon device forget
  $ paragon device forget --profile staging`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return forgetRun(cmd.Context(), opts)
		},
	}
}

func forgetRun(ctx context.Context, opts *ForgetOptions) error {
	s, err := opts.OpenSession(ctx, nil)
	if err != nil {
		return err
	}
	id, err := s.DeviceID()
	if err != nil {
		return err
	}
	if err := s.DeleteItems(trust.Items...); err != nil {
		return err
	}
	cs := opts.IO.ColorSchemeStderr()
	if id == "" {
		fmt.Fprintf(opts.IO.ErrOut, "No device was registered for profile %s; nothing to forget.\n", s.Name)
		return nil
	}
	fmt.Fprintf(opts.IO.ErrOut, "%s Forgot device %s (profile %s). An administrator can remove it from the server at %s/admin.\n",
		cs.SuccessIcon(), id, s.Name, s.Profile.OAuthBase())
	return nil
}
