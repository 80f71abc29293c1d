package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/client"
	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
)

// TokenOptions holds what `paragon token` needs.
type TokenOptions struct {
	IO          *iostreams.IOStreams
	OpenSession func(ctx context.Context, ov *cmdutil.ProfileOverrides) (*cmdutil.Session, error)
	Device      bool
	JSON        bool
}

// NewCmdToken returns `paragon token`.
func NewCmdToken(f *cmdutil.Factory, runF func(context.Context, *TokenOptions) error) *cobra.Command {
	opts := &TokenOptions{IO: f.IOStreams, OpenSession: f.OpenSession}
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a valid access token",
		Long: `Print the user's access token, refreshed first if it has expired, and nothing
else, for use in other tools. With --device print the device token instead.
This command prints a secret: keep its output out of logs.`,
		Example: `  $ curl -H "X-Api-Key: $KEY" -H "Authorization: Bearer $(paragon token)" http://127.0.0.1:7300/api/v1/account
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
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

func tokenRun(ctx context.Context, opts *TokenOptions) error {
	s, err := opts.OpenSession(ctx, nil)
	if err != nil {
		return err
	}
	var src client.TokenSource
	if opts.Device {
		src, err = s.DeviceSource()
	} else {
		src, err = s.UserSource()
	}
	if err != nil {
		return err
	}
	tok, err := src.Token(ctx)
	if err != nil {
		return s.Explain(err)
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
