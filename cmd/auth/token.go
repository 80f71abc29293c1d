package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/client"
	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/cmd/internal/trust"
	"github.com/paragon-cli/paragon/keystore"
)

// TokenOptions holds what `paragon token` needs.
type TokenOptions struct {
	IO          *iostreams.IOStreams
	OpenSession func(ctx context.Context, ov *cmdutil.ProfileOverrides) (*cmdutil.Session, error)
	Device      bool
	Refresh     bool
	JSON        bool
}

// NewCmdToken returns `paragon token`.
func NewCmdToken(f *cmdutil.Factory, runF func(context.Context, *TokenOptions) error) *cobra.Command {
	opts := &TokenOptions{IO: f.IOStreams, OpenSession: f.OpenSession}
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a valid access token",
		Long: `Print the user's access token, and nothing else, for use in other tools. The
token is checked with the server first (GET /api/v1/account): one that has
expired, or that the server no longer accepts, is refreshed; when the login
itself has ended the command prints nothing and exits 4, as 'paragon status'
does. --refresh renews the token whatever its state (and rotates the refresh
token).

With --device print the device token instead (refreshed when it has expired,
or with --refresh). This command prints a secret: keep its output out of
logs.`,
		Example: `  $ curl -H "X-Api-Key: $KEY" -H "Authorization: Bearer $(paragon token)" http://127.0.0.1:7300/api/v1/account
  $ paragon token --refresh
  $ paragon token --device --profile staging
  $ paragon token --json | jq -r .expiry`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return tokenRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Device, "device", false, "Print the device token instead of the user's")
	cmd.Flags().BoolVar(&opts.Refresh, "refresh", false, "Renew the token now, even if it is still valid")
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

func tokenRun(ctx context.Context, opts *TokenOptions) error {
	s, err := opts.OpenSession(ctx, nil)
	if err != nil {
		return err
	}
	var tok *client.Token
	if opts.Device {
		src, err := trust.Source(s)
		if err != nil {
			return err
		}
		if opts.Refresh {
			tok, err = src.ForceRefresh(ctx, src.Current())
		} else {
			tok, err = src.Token(ctx)
		}
		if err != nil {
			return s.Explain(err)
		}
	} else {
		if opts.Refresh && s.EnvToken() != "" {
			return fmt.Errorf("%s is set: a token from the environment cannot be refreshed (unset it to use the stored login)", keystore.EnvToken)
		}
		src, err := s.UserSource()
		if err != nil {
			return err
		}
		if r, ok := src.(client.Refresher); ok && opts.Refresh {
			tok, err = r.ForceRefresh(ctx, nil)
		} else {
			// The server decides whether the token is good: the call
			// refreshes one it refuses, or fails when the login has ended.
			if _, err = s.Client.Session(src).Account(ctx); err == nil {
				tok, err = src.Token(ctx)
			}
		}
		if err != nil {
			return s.Explain(err)
		}
	}
	if opts.JSON {
		v := struct {
			AccessToken string     `json:"access_token"`
			TokenType   string     `json:"token_type"`
			Expiry      *time.Time `json:"expiry,omitempty"`
		}{tok.AccessToken, tok.Type(), nil}
		if !tok.Expiry.IsZero() {
			v.Expiry = &tok.Expiry
		}
		return cmdutil.WriteJSON(opts.IO, v)
	}
	_, err = fmt.Fprintln(opts.IO.Out, tok.AccessToken)
	return err
}
