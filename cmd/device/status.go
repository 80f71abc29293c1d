package device

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/cmd/internal/trust"
)

// StatusOptions holds what `device status` needs.
type StatusOptions struct {
	IO          *iostreams.IOStreams
	OpenSession func(ctx context.Context, ov *cmdutil.ProfileOverrides) (*cmdutil.Session, error)
	Now         func() time.Time
	JSON        bool
}

// NewCmdStatus returns `device status`.
func NewCmdStatus(f *cmdutil.Factory, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IOStreams, OpenSession: f.OpenSession, Now: f.Clock}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show whether this device is registered and trusted",
		Long: `Show the profile's device: its id, whether it waits for approval or is
trusted, and when its device token expires. A registration that was approved
meanwhile is finished here. It asks the server once and answers at once: a
device still waiting says when paragon asks the server again (the server
wants a few seconds between questions). Exits 4 when no trusted device is
stored.`,
		Example: `  $ paragon device status
  $ paragon device status --json | jq -r .device.status`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return statusRun(cmd.Context(), opts)
		},
	}
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

func statusRun(ctx context.Context, opts *StatusOptions) error {
	s, err := opts.OpenSession(ctx, nil)
	if err != nil {
		return err
	}
	ios := opts.IO
	cs := ios.ColorScheme()
	id, err := s.DeviceID()
	if err != nil {
		return err
	}
	st := stateJSON{Profile: s.Name, Device: cmdutil.DeviceJSON{ID: id, Status: "none"}, Store: s.Store.Name()}
	var notTrusted error
	var still *trust.StillPendingError
	if id != "" {
		// One question to the server, answered at once: a registration
		// approved meanwhile is finished, else it says when it asks again.
		if _, err := trust.Finish(ctx, s, trust.FinishOptions{Now: opts.Now()}); err != nil && !errors.As(err, &still) {
			return s.Explain(err)
		}
	}
	tok, err := s.StoredDeviceToken()
	if err != nil {
		return err
	}
	switch {
	case id == "":
		notTrusted = &cmdutil.AuthError{Err: fmt.Errorf("no device registered for profile %q", s.Name), Hint: s.Cmd("device register")}
	case tok == nil:
		st.Device.Status, st.Device.ApproveAt = "pending", s.Profile.OAuthBase()+"/admin"
		var next time.Time
		if still != nil {
			next = still.Next
			st.Device.NextCheck = &next
		}
		notTrusted = trust.PendingError(s, id, next)
	default:
		st.Device.Status, st.Device.RefreshToken = "trusted", tok.RefreshToken != ""
		if !tok.Expiry.IsZero() {
			st.Device.TokenExpiry = &tok.Expiry
		}
	}
	if opts.JSON {
		if err := cmdutil.WriteJSON(ios, st); err != nil {
			return err
		}
		if notTrusted != nil {
			return &cmdutil.ExitError{Code: cmdutil.ExitAuth}
		}
		return nil
	}
	if !ios.IsStdoutTTY() {
		exp := ""
		if st.Device.TokenExpiry != nil {
			exp = st.Device.TokenExpiry.UTC().Format(time.RFC3339)
		}
		if id != "" {
			fmt.Fprintf(ios.Out, "%s\t%s\t%s\t%s\n", id, st.Device.Status, exp, st.Store)
		}
		return notTrusted
	}
	if notTrusted != nil {
		return notTrusted
	}
	fmt.Fprintf(ios.Out, "Device %s: %s\n", cs.Bold(id), cs.Green("trusted"))
	fmt.Fprintf(ios.Out, "  Server:        %s\n", s.Profile.OAuthBase())
	fmt.Fprintf(ios.Out, "  Device token:  %s\n", cmdutil.DescribeExpiry(tok.Expiry, opts.Now()))
	refresh := "stored"
	if tok.RefreshToken == "" {
		refresh = cs.Yellow("missing (register again when the device token expires)")
	}
	fmt.Fprintf(ios.Out, "  Refresh token: %s\n", refresh)
	fmt.Fprintf(ios.Out, "  Stored in:     %s\n", s.StorePath())
	return nil
}
