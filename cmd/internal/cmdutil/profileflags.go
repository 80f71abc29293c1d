package cmdutil

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
)

// ProfileFlags are the flags that create or update a profile: --server,
// --oauth-url, --api-key and --api-key-stdin (device register, login).
type ProfileFlags struct {
	Server      string
	OAuthURL    string
	APIKey      string
	APIKeyStdin bool
}

// Add defines the flags on cmd.
func (p *ProfileFlags) Add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&p.Server, "server", "", "Root `URL` of the server, such as http://127.0.0.1:7300 (a trailing /api/v1 is dropped); creates or updates the profile")
	fl.StringVar(&p.OAuthURL, "oauth-url", "", "Root `URL` of the OAuth service (default: the server; a trailing /oauth/v1 is dropped)")
	fl.StringVar(&p.APIKey, "api-key", "", "API `KEY` to store in the keystore (visible in shell history: prefer --api-key-stdin)")
	fl.BoolVar(&p.APIKeyStdin, "api-key-stdin", false, "Read the API key from standard input")
}

// Validate rejects contradictory flags.
func (p *ProfileFlags) Validate() error {
	if p.APIKey != "" && p.APIKeyStdin {
		return FlagErrorf("--api-key and --api-key-stdin cannot be combined: give the key once")
	}
	return nil
}

// Overrides reads the API key from stdin when asked and returns the
// profile settings to apply.
func (p *ProfileFlags) Overrides(ctx context.Context, ios *iostreams.IOStreams) (*ProfileOverrides, error) {
	ov := &ProfileOverrides{Server: p.Server, OAuthURL: p.OAuthURL, APIKey: p.APIKey}
	if p.APIKeyStdin {
		if ios.IsStdinTTY() {
			k, err := ios.PromptPassword(ctx, "API key: ")
			if err != nil {
				return nil, PromptError("the API key", err)
			}
			ov.APIKey = strings.TrimSpace(k)
		} else {
			k, err := ios.ReadLine()
			if err != nil {
				return nil, FlagErrorf("--api-key-stdin: nothing to read on standard input")
			}
			ov.APIKey = strings.TrimSpace(k)
		}
		if ov.APIKey == "" {
			return nil, FlagErrorf("--api-key-stdin: the API key read from standard input is empty")
		}
	}
	return ov, nil
}

// DefaultDeviceDescription is the description a device registers with when
// none is given: "paragon on <hostname>".
func DefaultDeviceDescription() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "paragon"
	}
	return fmt.Sprintf("paragon on %s", h)
}
