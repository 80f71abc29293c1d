// Package auth implements the commands that deal with the user's login:
// `paragon login`, `logout`, `status` and `token`.
package auth

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

// LoginOptions holds what `paragon login` needs.
type LoginOptions struct {
	IO          *iostreams.IOStreams
	OpenSession func(ctx context.Context, ov *cmdutil.ProfileOverrides) (*cmdutil.Session, error)
	Getenv      func(string) string
	Now         func() time.Time

	User          string
	PasswordStdin bool
	CardID        string
	ShortID       string
	Email         string
	UsernameOnly  bool
	Untrusted     bool
	Profile       cmdutil.ProfileFlags
}

// NewCmdLogin returns `paragon login`. runF replaces the run function in tests.
func NewCmdLogin(f *cmdutil.Factory, runF func(context.Context, *LoginOptions) error) *cobra.Command {
	opts := &LoginOptions{IO: f.IOStreams, OpenSession: f.OpenSession, Getenv: f.Env, Now: f.Clock}
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in a user and store the refresh token",
		Long: `Log a user in with the trusted device's token (refreshed as needed) and keep
the user's refresh token in the keystore, so that later commands get fresh
access tokens without asking again.

On a terminal the user name and password are prompted for (the password is
not echoed, and asked for up to three times if the server refuses it). In scripts pass --user and --password-stdin. The insecure kinds
(--card-id, --short-id, --email, --username-only) work only when the API key
allows them. --untrusted logs in without a device token, for API keys that
allow untrusted endpoints.

--server, --oauth-url and --api-key create or update the profile; on a
terminal a new profile's API key is asked for (not echoed) when none is given.`,
		Example: `  $ paragon login
  $ paragon login --user alice --password-stdin < password.txt
  $ echo "$PASSWORD" | paragon login --user alice --password-stdin --profile prod
  $ paragon login --card-id CARD-0001
  $ paragon login --untrusted --server https://paragon.example:7300 --api-key-stdin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return loginRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.User, "user", "u", "", "User `NAME` (prompted for on a terminal)")
	fl.BoolVar(&opts.PasswordStdin, "password-stdin", false, "Read the password from standard input")
	fl.StringVar(&opts.CardID, "card-id", "", "Log in with a card `ID` (insecure; the API key must allow it)")
	fl.StringVar(&opts.ShortID, "short-id", "", "Log in with a short `ID` (insecure; the API key must allow it)")
	fl.StringVar(&opts.Email, "email", "", "Log in with an email `ADDRESS` only (insecure; the API key must allow it)")
	fl.BoolVar(&opts.UsernameOnly, "username-only", false, "Log in with --user and no password (insecure; the API key must allow it)")
	fl.BoolVar(&opts.Untrusted, "untrusted", false, "Log in without a device token (the API key must allow untrusted endpoints)")
	opts.Profile.Add(cmd)
	return cmd
}

func (o *LoginOptions) validate() error {
	if err := o.Profile.Validate(); err != nil {
		return err
	}
	var kinds []string
	for flag, set := range map[string]bool{"--card-id": o.CardID != "", "--short-id": o.ShortID != "", "--email": o.Email != "", "--username-only": o.UsernameOnly} {
		if set {
			kinds = append(kinds, flag)
		}
	}
	slices.Sort(kinds)
	if len(kinds) > 1 {
		return cmdutil.FlagErrorf("choose one way to log in: %s cannot be combined", strings.Join(kinds, " and "))
	}
	if len(kinds) == 1 {
		if o.PasswordStdin {
			return cmdutil.FlagErrorf("--password-stdin cannot be combined with %s, which logs in without a password", kinds[0])
		}
		if kinds[0] != "--username-only" && o.User != "" {
			return cmdutil.FlagErrorf("--user cannot be combined with %s: the credential is the %s itself", kinds[0], strings.TrimPrefix(kinds[0], "--"))
		}
		if kinds[0] == "--username-only" && o.User == "" && !o.IO.IsStdinTTY() {
			return cmdutil.FlagErrorf("--username-only needs --user NAME")
		}
	}
	if o.PasswordStdin && o.Profile.APIKeyStdin {
		return cmdutil.FlagErrorf("--password-stdin and --api-key-stdin both read standard input: pass the API key with --api-key or PARAGON_API_KEY")
	}
	if len(kinds) == 0 && !o.IO.IsStdinTTY() {
		if o.User == "" {
			return cmdutil.FlagErrorf("--user is required when standard input is not a terminal")
		}
		if !o.PasswordStdin {
			return cmdutil.FlagErrorf("no terminal to ask for the password: pass it with --password-stdin")
		}
	}
	return nil
}

// request builds the login request, prompting on a terminal.
func (o *LoginOptions) request(ctx context.Context) (client.LoginRequest, error) {
	ios := o.IO
	switch {
	case o.CardID != "":
		return client.LoginRequest{AuthType: client.AuthCardID, UserID: o.CardID}, nil
	case o.ShortID != "":
		return client.LoginRequest{AuthType: client.AuthShortID, UserID: o.ShortID}, nil
	case o.Email != "":
		return client.LoginRequest{AuthType: client.AuthEmail, UserID: o.Email}, nil
	}
	user := o.User
	if user == "" {
		u, err := ios.Prompt(ctx, "User name: ")
		if err != nil {
			return client.LoginRequest{}, cmdutil.PromptError("the user name", err)
		}
		if user = strings.TrimSpace(u); user == "" {
			return client.LoginRequest{}, cmdutil.FlagErrorf("the user name is empty")
		}
	}
	if o.UsernameOnly {
		return client.LoginRequest{AuthType: client.AuthUsername, UserID: user}, nil
	}
	pw, err := o.password(ctx, user)
	if err != nil {
		return client.LoginRequest{}, err
	}
	return client.LoginRequest{AuthType: client.AuthPassword, UserID: user, Password: pw}, nil
}

// maxPasswordTries is how often a password typed at the terminal is asked
// for when the server refuses it.
const maxPasswordTries = 3

// promptsPassword reports whether the password is typed at the terminal
// (and so can be asked for again).
func (o *LoginOptions) promptsPassword() bool {
	return !o.PasswordStdin && !o.UsernameOnly && o.CardID == "" && o.ShortID == "" && o.Email == "" && o.IO.IsStdinTTY()
}

// password reads user's password from standard input or the terminal.
func (o *LoginOptions) password(ctx context.Context, user string) (string, error) {
	var pw string
	var err error
	if o.PasswordStdin {
		if pw, err = o.IO.ReadLine(); err != nil {
			return "", cmdutil.FlagErrorf("--password-stdin: nothing to read on standard input")
		}
	} else if pw, err = o.IO.PromptPassword(ctx, "Password for "+user+": "); err != nil {
		return "", cmdutil.PromptError("the password", err)
	}
	if pw == "" {
		return "", cmdutil.FlagErrorf("the password is empty")
	}
	return pw, nil
}

func loginRun(ctx context.Context, opts *LoginOptions) error {
	if opts.Getenv(keystore.EnvToken) != "" {
		return fmt.Errorf("%s is set, and it would win over any login: unset it first (unset %s)", keystore.EnvToken, keystore.EnvToken)
	}
	ov, err := opts.Profile.Overrides(ctx, opts.IO)
	if err != nil {
		return err
	}
	s, err := opts.OpenSession(ctx, ov)
	if err != nil {
		return err
	}
	if s.MovedFrom != "" && !opts.Untrusted {
		// The device is trusted by the old server only: never send its
		// token to another one.
		return &cmdutil.AuthError{Err: fmt.Errorf("profile %q's device is registered with %s, not %s: register this machine with the new server first", s.Name, s.MovedFrom, s.Profile.Server), Hint: s.Cmd("device register")}
	}
	var devSrc *client.RefreshingSource
	if !opts.Untrusted {
		if devSrc, err = trust.ForLogin(ctx, s, opts.Now()); err != nil {
			return err
		}
	}
	req, err := opts.request(ctx)
	if err != nil {
		return err
	}
	req.Untrusted = opts.Untrusted
	if devSrc != nil {
		req.DeviceToken = devSrc
	}
	tok, err := s.Client.LoginToken(ctx, req)
	// A password typed at the terminal gets three tries, as sudo gives.
	for try := 1; try < maxPasswordTries && errors.Is(err, client.ErrInvalidCredentials) && opts.promptsPassword(); try++ {
		fmt.Fprintln(opts.IO.ErrOut, "Wrong user name or password; try again.")
		if req.Password, err = opts.password(ctx, req.UserID); err != nil {
			return err
		}
		tok, err = s.Client.LoginToken(ctx, req)
	}
	if err != nil && devSrc != nil && errors.Is(err, client.ErrDeviceNotTrusted) {
		// The device token is dead (e.g. its refresh token expired): a
		// re-registration signed with the device key needs no approval.
		if devSrc, rerr := trust.ReRegister(ctx, s, opts.IO.ErrOut); rerr == nil && devSrc != nil {
			req.DeviceToken = devSrc
			tok, err = s.Client.LoginToken(ctx, req)
		}
	}
	var apiErr *client.APIError
	if opts.Untrusted && errors.As(err, &apiErr) && apiErr.Code == "device_token_required" {
		// Not a device that lost its trust: there is none in the request.
		return &cmdutil.AuthError{Err: errors.New("this API key does not allow logging in without a trusted device (--untrusted): register this machine first"), Hint: s.Cmd("device register")}
	}
	if err != nil {
		return s.Explain(err)
	}
	if err := s.Save(); err != nil {
		return err
	}
	s.WarnStorage()
	if s.MovedFrom != "" {
		// An untrusted login to another server: the old server's device
		// means nothing there.
		if err := s.DeleteItems(trust.Items...); err != nil {
			return err
		}
	}
	if err := s.SaveTokens(keystore.UserTokens, tok); err != nil {
		return err
	}
	if err := s.Store.Store.Set(s.Name, keystore.ItemUserName, req.UserID); err != nil {
		return s.Explain(err)
	}
	cs := opts.IO.ColorSchemeStderr()
	who := req.UserID
	if req.AuthType != client.AuthPassword && req.AuthType != client.AuthUsername {
		who = "the user of that credential"
		_ = s.Store.Store.Delete(s.Name, keystore.ItemUserName) // a card or short ID is a credential: do not keep it as a name
	}
	fmt.Fprintf(opts.IO.ErrOut, "%s Logged in to %s as %s (profile %s).\n", cs.SuccessIcon(), s.Profile.Server, cs.Bold(who), s.Name)
	fmt.Fprintf(opts.IO.ErrOut, "Refresh token stored in %s.\n", s.StorePath())
	return nil
}
