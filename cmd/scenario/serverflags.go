package scenario

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"

	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
)

// serverFlags are the flags that name an outside server, shared by `run`
// and `explore`: pointers to the options they fill.
type serverFlags struct {
	server, oauthURL, apiKey *string
	apiKeyFrom               *string // nil, or where the API key came from: "--api-key", "PARAGON_API_KEY", ""
	adminURL, adminToken     *string
	secondAPIKey             *string
}

// add defines the flags; the usages that differ between commands are given.
func (s serverFlags) add(fl *pflag.FlagSet, serverUsage, adminURLUsage, secondKeyUsage string) {
	fl.StringVar(s.server, "server", "", serverUsage)
	fl.StringVar(s.oauthURL, "oauth-url", "", "Root `URL` of the OAuth service, when not the --server one")
	fl.StringVar(s.apiKey, "api-key", "", "API `KEY` for --server (default $PARAGON_API_KEY, else the demo key)")
	fl.StringVar(s.adminURL, "admin-url", "", adminURLUsage)
	fl.StringVar(s.adminToken, "admin-token", "", "Admin API `TOKEN` (default $PARAGON_ADMIN_TOKEN)")
	fl.StringVar(s.secondAPIKey, "second-api-key", "", secondKeyUsage)
}

// resolve takes --api-key and --admin-token from the environment when not
// given, and refuses the outside-server flags without --server (embedded
// says what happens without it). Secrets from the environment are for
// outside servers: without --server they are cleared. The URLs get the
// checks of every command that takes a server (notes go to errOut).
func (s serverFlags) resolve(fl *pflag.FlagSet, embedded string, errOut io.Writer) error {
	from := ""
	if fl.Changed("api-key") {
		from = "--api-key"
	} else if *s.apiKey = os.Getenv("PARAGON_API_KEY"); *s.apiKey != "" {
		from = "PARAGON_API_KEY"
	}
	if s.apiKeyFrom != nil {
		*s.apiKeyFrom = from
	}
	if !fl.Changed("admin-token") {
		*s.adminToken = os.Getenv("PARAGON_ADMIN_TOKEN")
	}
	if *s.server != "" {
		for _, u := range []struct {
			flag string
			v    *string
		}{{"--server", s.server}, {"--oauth-url", s.oauthURL}, {"--admin-url", s.adminURL}} {
			if *u.v == "" {
				continue
			}
			root, note, err := cmdutil.ServerURL(u.flag, *u.v)
			if err != nil {
				return err
			}
			if note != "" {
				fmt.Fprintln(errOut, note)
			}
			*u.v = root
		}
		return nil
	}
	for _, name := range []string{"oauth-url", "api-key", "second-api-key", "admin-url", "admin-token"} {
		if fl.Changed(name) {
			return cmdutil.FlagErrorf("--%s needs --server: without it %s", name, embedded)
		}
	}
	*s.apiKey, *s.adminToken = "", ""
	if s.apiKeyFrom != nil {
		*s.apiKeyFrom = ""
	}
	return nil
}
