package device

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/client"
	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/cmd/internal/trust"
	"github.com/paragon-cli/paragon/keystore"
)

// clientTypes are the accepted --type values.
var clientTypes = []string{client.ClientTypeDesktop, client.ClientTypePrinter, client.ClientTypeChromeExtension, client.ClientTypeMobile, client.ClientTypeServer}

// RegisterOptions holds what `device register` needs.
type RegisterOptions struct {
	IO          *iostreams.IOStreams
	OpenSession func(ctx context.Context, ov *cmdutil.ProfileOverrides) (*cmdutil.Session, error)
	Now         func() time.Time

	Type        string
	Description string
	NoWait      bool
	Interval    time.Duration
	JSON        bool
	Profile     cmdutil.ProfileFlags
}

// NewCmdRegister returns `device register`. runF replaces the run function
// in tests.
func NewCmdRegister(f *cmdutil.Factory, runF func(context.Context, *RegisterOptions) error) *cobra.Command {
	opts := &RegisterOptions{IO: f.IOStreams, OpenSession: f.OpenSession, Now: f.Clock}
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Register this machine and wait for an administrator to trust it",
		Long: `Generate this device's Ed25519 key (once), register it with the server's OAuth
service and wait until an administrator approves it, then store the device
token. The device id is printed on stdout.

With --no-wait the command returns at once; the registration is kept and
'paragon login' (or running this command again) finishes it after approval.
A registered device that is no longer trusted (its refresh token expired)
re-registers with its key, which needs no new approval.

--server, --oauth-url and --api-key create or update the profile; on a
terminal a new profile's API key is asked for (not echoed) when none is given.
Pointing a profile at another server registers a new device there; the old
server's device and login are forgotten once that succeeds.`,
		Example: `  # a fresh machine against a local reference server
  $ paragon device register --server http://127.0.0.1:7300 --api-key-stdin <<< paragon-dev-key

  # register, approve later, then log in
  $ paragon device register --no-wait --description "build agent 7"
  $ paragon login --user alice`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(clientTypes, opts.Type) {
				return cmdutil.FlagErrorf("invalid --type %q: use one of %s", opts.Type, strings.Join(clientTypes, ", "))
			}
			if err := opts.Profile.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return registerRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Type, "type", client.ClientTypeDesktop, "Client `TYPE`: "+strings.Join(clientTypes, ", "))
	fl.StringVar(&opts.Description, "description", "", "Show `TEXT` to the administrator who approves the device (default: paragon on this machine's host name)")
	fl.BoolVar(&opts.NoWait, "no-wait", false, "Register and return without waiting for approval")
	fl.DurationVar(&opts.Interval, "interval", 0, "Polling `INTERVAL` (default 5s; the server may ask for slower)")
	_ = fl.MarkHidden("interval")
	opts.Profile.Add(cmd)
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

func registerRun(ctx context.Context, opts *RegisterOptions) error {
	ov, err := opts.Profile.Overrides(ctx, opts.IO)
	if err != nil {
		return err
	}
	s, err := opts.OpenSession(ctx, ov)
	if err != nil {
		return err
	}
	ios := opts.IO
	cs := ios.ColorSchemeStderr()
	id, err := s.DeviceID()
	if err != nil {
		return err
	}
	key, err := s.DeviceKey()
	if err != nil {
		return err
	}
	p, err := trust.LoadPending(s, opts.Now())
	if err != nil {
		return err
	}
	if s.MovedFrom != "" {
		// Another server: a fresh registration with a new id and key,
		// nothing of the old server's device reused or sent there.
		p, id, key = nil, "", nil
	}
	if p == nil || id == "" || key == nil {
		if id == "" || key == nil {
			id = client.NewDeviceID()
			if key, err = client.GenerateDeviceKey(); err != nil {
				return err
			}
		}
		desc := opts.Description
		if desc == "" {
			desc = cmdutil.DefaultDeviceDescription()
		}
		reg, err := s.Client.Register(ctx, client.RegisterRequest{ClientID: id, ClientType: opts.Type, Description: desc, Key: key})
		if err != nil {
			return s.Explain(err)
		}
		s.Profile.DeviceType = opts.Type
		if err := s.Save(); err != nil {
			return err
		}
		s.WarnStorage()
		if s.MovedFrom != "" {
			// The login was for the old server too.
			if err := s.DeleteItems(keystore.ItemUserAccessToken, keystore.ItemUserRefreshToken, keystore.ItemUserName); err != nil {
				return err
			}
			fmt.Fprintf(ios.ErrOut, "Profile %s moves from %s to %s: its device and login for %s are forgotten.\n", s.Name, s.MovedFrom, s.Profile.Server, s.MovedFrom)
		}
		if err := s.SaveDevice(id, key); err != nil {
			return err
		}
		// A new registration replaces the old device token.
		if err := s.DeleteItems(keystore.ItemDeviceAccessToken, keystore.ItemDeviceRefreshToken); err != nil {
			return err
		}
		if err := trust.SavePending(s, trust.Pending{DeviceCode: reg.DeviceCode, Expiry: reg.Expiry}); err != nil {
			return err
		}
		fmt.Fprintf(ios.ErrOut, "Registered device %s with %s (profile %s).\n", cs.Bold(id), s.Profile.OAuthBase(), s.Name)
	} else {
		fmt.Fprintf(ios.ErrOut, "Device %s is already registered and waiting for approval.\n", cs.Bold(id))
	}
	st := stateJSON{Profile: s.Name, Device: cmdutil.DeviceJSON{ID: id, Status: "pending", ApproveAt: s.Profile.OAuthBase() + "/admin"}, Store: s.Store.Name()}

	// Re-registering a trusted device (signed with its key) is approved at
	// once: try one poll before talking about administrators.
	tok, err := trust.Finish(ctx, s, trust.FinishOptions{Now: opts.Now(), Interval: opts.Interval})
	if err == nil && tok != nil {
		return trusted(opts, s, st, tok)
	}
	var still *trust.StillPendingError
	if err != nil && !errors.As(err, &still) {
		return s.Explain(err)
	}
	if still != nil {
		st.Device.NextCheck = &still.Next
	}
	fmt.Fprintln(ios.ErrOut, trust.AdminHint(s, id)+".")
	if opts.NoWait {
		fmt.Fprintf(ios.ErrOut, "Once it is approved, run: %s\n", s.Cmd("login"))
		return printDone(ios, opts.JSON, st)
	}
	msg := fmt.Sprintf("Waiting for approval of device %s (Ctrl-C to stop; the registration is kept)", id)
	ios.StartProgress(msg)
	interval := opts.Interval
	if interval <= 0 {
		interval = client.DefaultPollInterval
	}
	// The quick poll above was the first one: wait an interval so that the
	// server does not answer slow_down.
	err = s.Sleep(ctx, interval)
	if err == nil {
		tok, err = trust.Finish(ctx, s, trust.FinishOptions{Now: opts.Now(), Wait: true, Interval: interval, Progress: func(ev client.PollEvent) {
			if ev.Status == "retry" && !ios.IsStderrTTY() {
				fmt.Fprintf(ios.ErrOut, "Server unavailable, retrying in %s\n", ev.Interval)
			}
		}})
	}
	ios.StopProgress()
	if err != nil {
		if ctx.Err() != nil {
			return &cmdutil.ExitError{Code: cmdutil.ExitInterrupted, Err: fmt.Errorf("stopped waiting; device %s stays registered: once it is approved, run %s", id, s.Cmd("login"))}
		}
		return s.Explain(err)
	}
	return trusted(opts, s, st, tok)
}

func trusted(opts *RegisterOptions, s *cmdutil.Session, st stateJSON, tok *client.Token) error {
	cs := opts.IO.ColorSchemeStderr()
	fmt.Fprintf(opts.IO.ErrOut, "%s Device %s is trusted; keys and tokens are in %s.\n", cs.SuccessIcon(), st.Device.ID, s.StorePath())
	fmt.Fprintf(opts.IO.ErrOut, "Next, log in: %s\n", s.Cmd("login"))
	st.Device.Status, st.Device.ApproveAt, st.Device.RefreshToken = "trusted", "", tok.RefreshToken != ""
	if !tok.Expiry.IsZero() {
		st.Device.TokenExpiry = &tok.Expiry
	}
	return printDone(opts.IO, opts.JSON, st)
}
