package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/keystore"
)

// StatusOptions holds what `paragon status` needs.
type StatusOptions struct {
	IO          *iostreams.IOStreams
	OpenSession func(ctx context.Context, ov *cmdutil.ProfileOverrides) (*cmdutil.Session, error)
	// OpenProfile opens a profile by name and Profiles lists them (--all).
	OpenProfile func(ctx context.Context, name string) (*cmdutil.Session, error)
	Profiles    func() ([]string, error)
	Now         func() time.Time
	ShowToken   bool
	JSON        bool
	All         bool
}

// NewCmdStatus returns `paragon status`.
func NewCmdStatus(f *cmdutil.Factory, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IOStreams, OpenSession: f.OpenSession, OpenProfile: f.OpenProfileSession, Now: f.Clock,
		Profiles: func() ([]string, error) {
			cfg, err := f.Config()
			if err != nil {
				return nil, err
			}
			return cfg.Names(), nil
		}}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the profile, its device and login, and check them against the server",
		Long: `Show the profile in use: its server URLs, where its secrets are kept, the
device's trust and the user's login with the expiry of each token, then call
the server (GET /api/v1/account) to check that the login works, refreshing
the token if needed. Tokens are masked unless --show-token.

With --all every profile is shown and checked, one after the other (with
--json, a list).

Exits 0 when the check passes (for every profile), 4 when nobody is logged
in or the login has expired, 1 when the check fails otherwise.`,
		Example: `  $ paragon status
  $ paragon status --profile prod --json
  $ paragon status --all
  $ paragon status --show-token`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.All && cmd.Flags().Changed("profile") {
				return cmdutil.FlagErrorf("--all shows every profile and cannot be combined with --profile")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return statusRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.ShowToken, "show-token", false, "Print the tokens and API key instead of masking them")
	cmd.Flags().BoolVar(&opts.All, "all", false, "Show and check every profile")
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

type tokenJSON struct {
	Expiry       *time.Time `json:"token_expiry,omitempty"`
	RefreshToken bool       `json:"refresh_token_stored"`
	AccessToken  string     `json:"access_token,omitempty"`
}

type statusJSON struct {
	Profile       string             `json:"profile"`
	Server        string             `json:"server"`
	OAuthURL      string             `json:"oauth_url"`
	Store         string             `json:"store"`
	StoreLocation string             `json:"store_location"`
	APIKeySource  string             `json:"api_key_source"`
	APIKey        string             `json:"api_key,omitempty"`
	Device        cmdutil.DeviceJSON `json:"device"`
	User          struct {
		Name        string `json:"name,omitempty"`
		LoggedIn    bool   `json:"logged_in"`
		TokenSource string `json:"token_source,omitempty"`
		tokenJSON
	} `json:"user"`
	Check struct {
		OK    bool   `json:"ok"`
		Error string `json:"error,omitempty"`
	} `json:"check"`
}

func expiryPtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func statusRun(ctx context.Context, opts *StatusOptions) error {
	if opts.All {
		return statusAll(ctx, opts)
	}
	s, err := opts.OpenSession(ctx, nil)
	if err != nil {
		return err
	}
	st, result, err := check(ctx, opts, s)
	if err != nil {
		return err
	}
	if err := printStatus(opts, &st); err != nil {
		return err
	}
	return result
}

// statusAll shows and checks every profile; the exit code is the worst of
// their checks.
func statusAll(ctx context.Context, opts *StatusOptions) error {
	names, err := opts.Profiles()
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return &cmdutil.AuthError{Err: errors.New("no profiles yet: create one with paragon device register --server <URL> --api-key-stdin")}
	}
	var all []statusJSON
	var failed []string
	code := cmdutil.ExitOK
	for i, name := range names {
		var st statusJSON
		s, err := opts.OpenProfile(ctx, name)
		var result error
		if err == nil {
			st, result, err = check(ctx, opts, s)
		}
		if err != nil { // the profile cannot even be opened
			st = statusJSON{Profile: name}
			st.Device.Status = "none"
			st.Check.Error, result = err.Error(), err
		}
		if result != nil {
			failed = append(failed, name)
			if c := cmdutil.ExitCode(result); code != cmdutil.ExitAuth && c != cmdutil.ExitOK {
				code = c
			}
		}
		if opts.JSON {
			all = append(all, st)
			continue
		}
		if i > 0 {
			fmt.Fprintln(opts.IO.Out)
		}
		if err := printStatus(opts, &st); err != nil {
			return err
		}
	}
	if opts.JSON {
		if err := cmdutil.WriteJSON(opts.IO, all); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		return &cmdutil.ExitError{Code: code, Err: fmt.Errorf("%d of %d profiles failed the check: %s", len(failed), len(names), strings.Join(failed, ", "))}
	}
	return nil
}

func printStatus(opts *StatusOptions, st *statusJSON) error {
	switch {
	case opts.JSON:
		return cmdutil.WriteJSON(opts.IO, st)
	case opts.IO.IsStdoutTTY():
		printStatusTTY(opts, st)
	default:
		printStatusPlain(opts, st)
	}
	return nil
}

// check reads what profile s holds and checks its login against the server:
// result is the check's failure, err a failure to read the profile.
func check(ctx context.Context, opts *StatusOptions, s *cmdutil.Session) (st statusJSON, result, err error) {
	st.Profile, st.Server, st.OAuthURL = s.Name, s.Profile.Server, s.Profile.OAuthBase()
	st.Store, st.StoreLocation, st.APIKeySource = s.Store.Name(), s.StorePath(), s.APIKeySource()
	if opts.ShowToken {
		st.APIKey = s.Client.APIKey()
	}

	// The live check first: it may refresh the tokens shown below.
	src, err := s.UserSource()
	switch {
	case err != nil:
		result = err
		st.Check.Error = "not logged in"
	default:
		if _, cerr := s.Client.Session(src).Account(ctx); cerr != nil {
			result = s.Explain(cerr)
			st.Check.Error = result.Error()
			var ae *cmdutil.AuthError
			if !errors.As(result, &ae) {
				result = fmt.Errorf("the check against %s failed: %w", s.Profile.Server, result)
			}
		} else {
			st.Check.OK = true
		}
	}

	id, err := s.DeviceID()
	if err != nil {
		return st, nil, err
	}
	dev, err := s.StoredDeviceToken()
	if err != nil {
		return st, nil, err
	}
	st.Device.ID, st.Device.Status = id, "none"
	if id != "" {
		st.Device.Status = "pending"
	}
	if dev != nil && id != "" {
		st.Device.Status = "trusted"
		st.Device.TokenExpiry, st.Device.RefreshToken = expiryPtr(dev.Expiry), dev.RefreshToken != ""
		if opts.ShowToken {
			st.Device.AccessToken = dev.AccessToken
		}
	}
	user, err := s.StoredUserToken()
	if err != nil {
		return st, nil, err
	}
	st.User.Name, _ = s.Store.Store.Get(s.Name, keystore.ItemUserName)
	switch {
	case s.EnvToken() != "":
		st.User.LoggedIn, st.User.TokenSource = true, "environment ("+keystore.EnvToken+")"
		if opts.ShowToken {
			st.User.AccessToken = s.EnvToken()
		}
	case user != nil:
		st.User.LoggedIn, st.User.TokenSource = true, s.Store.Name()
		st.User.Expiry, st.User.RefreshToken = expiryPtr(user.Expiry), user.RefreshToken != ""
		if opts.ShowToken {
			st.User.AccessToken = user.AccessToken
		}
	}

	return st, result, nil
}

func mask(show bool, v string) string {
	if show {
		return v
	}
	return "********"
}

func printStatusTTY(opts *StatusOptions, st *statusJSON) {
	out, cs, now := opts.IO.Out, opts.IO.ColorScheme(), opts.Now()
	fmt.Fprintf(out, "Profile %s\n", cs.Bold(st.Profile))
	fmt.Fprintf(out, "  Server:        %s\n", st.Server)
	fmt.Fprintf(out, "  OAuth service: %s\n", st.OAuthURL)
	fmt.Fprintf(out, "  Secrets in:    %s\n", st.StoreLocation)
	fmt.Fprintf(out, "  API key:       %s (from %s)\n", mask(st.APIKey != "", st.APIKey), st.APIKeySource)
	switch st.Device.Status {
	case "none":
		fmt.Fprintf(out, "  Device:        %s\n", cs.Yellow("none registered"))
	case "pending":
		fmt.Fprintf(out, "  Device:        %s %s\n", st.Device.ID, cs.Yellow("waiting for approval"))
	default:
		fmt.Fprintf(out, "  Device:        %s %s; token %s\n", st.Device.ID, cs.Green("trusted"), describe(tokenJSON{Expiry: st.Device.TokenExpiry, RefreshToken: st.Device.RefreshToken}, now))
		if st.Device.AccessToken != "" {
			fmt.Fprintf(out, "  Device token:  %s\n", st.Device.AccessToken)
		}
	}
	switch {
	case !st.User.LoggedIn:
		fmt.Fprintf(out, "  User:          %s\n", cs.Yellow("not logged in"))
	default:
		name := st.User.Name
		if name == "" {
			name = "(unknown name)"
		}
		fmt.Fprintf(out, "  User:          %s; token from %s, %s\n", cs.Bold(name), st.User.TokenSource, describe(st.User.tokenJSON, now))
		if st.User.AccessToken != "" {
			fmt.Fprintf(out, "  User token:    %s\n", st.User.AccessToken)
		}
	}
	if st.Check.OK {
		fmt.Fprintf(out, "  Check:         %s the server accepts the login\n", cs.SuccessIcon())
	} else {
		fmt.Fprintf(out, "  Check:         %s %s\n", cs.FailureIcon(), firstLine(st.Check.Error))
	}
}

func describe(t tokenJSON, now time.Time) string {
	d := "no expiry known"
	if t.Expiry != nil {
		d = cmdutil.DescribeExpiry(*t.Expiry, now)
	}
	if t.RefreshToken {
		d += ", refresh token stored"
	}
	return d
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func printStatusPlain(opts *StatusOptions, st *statusJSON) {
	out := opts.IO.Out
	rfc := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	check := "ok"
	if !st.Check.OK {
		check = "failed: " + firstLine(st.Check.Error)
	}
	rows := [][2]string{
		{"profile", st.Profile}, {"server", st.Server}, {"oauth_url", st.OAuthURL},
		{"store", st.Store}, {"store_location", st.StoreLocation},
		{"api_key", mask(st.APIKey != "", st.APIKey) + " (" + st.APIKeySource + ")"},
		{"device_id", st.Device.ID}, {"device_status", st.Device.Status}, {"device_token_expiry", rfc(st.Device.TokenExpiry)},
		{"user", st.User.Name}, {"logged_in", fmt.Sprint(st.User.LoggedIn)}, {"user_token_source", st.User.TokenSource},
		{"user_token_expiry", rfc(st.User.Expiry)},
		{"check", check},
	}
	if st.Device.AccessToken != "" {
		rows = append(rows, [2]string{"device_token", st.Device.AccessToken})
	}
	if st.User.AccessToken != "" {
		rows = append(rows, [2]string{"user_token", st.User.AccessToken})
	}
	for _, r := range rows {
		fmt.Fprintf(out, "%s\t%s\n", r[0], r[1])
	}
}
