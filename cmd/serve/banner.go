package serve

import (
	"fmt"
	"io"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/server"
)

// bannerInfo is what the start-up banner shows.
type bannerInfo struct {
	Version    string
	BaseURL    string // scheme://host:port of the main listener
	OAuthURL   string // scheme://host:port serving /oauth/v1 (BaseURL unless --oauth-addr)
	AdminToken string
	Account    *server.Account
	Source     string // "demo account" or the --config file
	FakeClock  bool
	DataFile   string
	Cert       *certInfo
}

// demo reports whether the banner describes the demo account, whose
// passwords are public and may be printed.
func (b *bannerInfo) demo() bool { return b.Source == "demo account" }

// apiKey returns the key used in the example commands: the first active key.
func (b *bannerInfo) apiKey() (server.Key, bool) {
	for _, k := range b.Account.Keys {
		if k.Active {
			return k, true
		}
	}
	return server.Key{}, false
}

// ListenLine is the machine-readable last line of the banner; scripts and
// tests read the URL from it (e.g. after --addr 127.0.0.1:0).
func (b *bannerInfo) ListenLine() string { return "listening on " + b.BaseURL }

// renderBanner returns the start-up banner: where to send requests, the
// credentials of the account, and ready-to-paste curl commands. Styling is
// applied only when styled is set (stdout is a terminal and NO_COLOR unset);
// the last line is always the plain "listening on URL".
func renderBanner(b *bannerInfo, styled bool) string {
	r := lipgloss.NewRenderer(io.Discard)
	if styled {
		r.SetColorProfile(termenv.ANSI256)
	} else {
		r.SetColorProfile(termenv.Ascii)
	}
	title := r.NewStyle().Bold(true)
	head := r.NewStyle().Bold(true).Foreground(lipgloss.Color("12"))
	url := r.NewStyle().Foreground(lipgloss.Color("14"))
	secret := r.NewStyle().Foreground(lipgloss.Color("11"))
	comment := r.NewStyle().Faint(true)

	var sb strings.Builder
	fmt.Fprintf(&sb, "%s\n\n", title.Render("paragon server "+b.Version+": a reference Paragon Cloud API server for tests"))

	info := iostreams.NewTable()
	info.Indent = 2
	row := func(label, value string) { info.AddRow(label, value) }
	row("API", url.Render(b.BaseURL+"/api/v1"))
	oauthNote := ""
	if b.OAuthURL != b.BaseURL {
		oauthNote = "  (its own listener)"
	}
	row("OAuth", url.Render(b.OAuthURL+"/oauth/v1")+oauthNote)
	row("Admin page", url.Render(b.BaseURL+"/admin"))
	row("Admin token", secret.Render(b.AdminToken)+"  (admin API: Authorization: Bearer <token>)")
	key, haveKey := b.apiKey()
	if haveKey {
		row("API key", secret.Render(key.Value)+fmt.Sprintf("  (key %q; header X-Api-Key)", key.Name))
	} else {
		row("API key", "none active in "+b.Source)
	}
	row("Account", b.Source)
	if b.DataFile != "" {
		row("State", b.DataFile+"  (survives restarts)")
	} else {
		row("State", "in memory  (lost at exit; --data FILE keeps it)")
	}
	if b.FakeClock {
		row("Clock", `fake: moves only through POST /admin/api/clock {"advance":"61m"}`)
	} else {
		row("Clock", "real")
	}
	if b.Cert != nil {
		how := "given by --tls-cert"
		if b.Cert.Generated {
			how = "self-signed, generated"
			if b.Cert.Reused {
				how = "self-signed, reused"
			}
		}
		row("TLS cert", b.Cert.CertFile+"  ("+how+"; clients: --cacert FILE)")
		row("SHA-256", b.Cert.Fingerprint)
	}
	sb.WriteString(info.Aligned(nil))

	if len(b.Account.Users) > 0 {
		fmt.Fprintf(&sb, "\n%s\n", head.Render("Users"))
		users := iostreams.NewTable("USERNAME", "PASSWORD", "CARD ID", "SHORT ID", "EMAIL", "ADMIN")
		if !b.demo() {
			users = iostreams.NewTable("USERNAME", "CARD ID", "SHORT ID", "EMAIL", "ADMIN")
		}
		users.Indent = 2
		for _, u := range b.Account.Users {
			admin := ""
			if u.Admin {
				admin = "yes"
			}
			if b.demo() {
				users.AddRow(u.Username, u.Password, dash(u.CardID), dash(u.ShortID), dash(u.Email), admin)
			} else {
				users.AddRow(u.Username, dash(u.CardID), dash(u.ShortID), dash(u.Email), admin)
			}
		}
		sb.WriteString(users.Aligned(nil))
		if !b.demo() {
			fmt.Fprintf(&sb, "  (passwords as in %s)\n", b.Source)
		}
	}

	curl := "curl -s"
	if b.Cert != nil {
		curl += " --cacert " + shellQuote(b.Cert.CertFile)
	}
	fmt.Fprintf(&sb, "\n%s\n", head.Render("First calls"))
	fmt.Fprintf(&sb, "  %s\n", comment.Render("# Is it up? HEAD /api/v1/account is the one call without an API key:"))
	fmt.Fprintf(&sb, "  %s -o /dev/null -w '%%{http_code}\\n' -I %s/api/v1/account\n", curl, b.BaseURL)
	if haveKey {
		user, pass := "alice", "wonderland"
		if !b.demo() && len(b.Account.Users) > 0 {
			user, pass = b.Account.Users[0].Username, "PASSWORD"
		}
		keyHdr := shellQuote("X-Api-Key: " + key.Value)
		fmt.Fprintf(&sb, "  %s\n", comment.Render("# Every other call needs the key and a user token; without a token: 403."))
		fmt.Fprintf(&sb, "  %s -H %s %s/api/v1/version\n", curl, keyHdr, b.BaseURL)
		if !key.AllowUntrusted {
			fmt.Fprintf(&sb, "  %s\n", comment.Render("# Login needs a trusted device's token. Shortcut: let the key log in without one,"))
			fmt.Fprintf(&sb, "  %s -X PATCH -H %s -d '{\"allow_untrusted\":true}' %s/admin/api/keys/%s\n",
				curl, shellQuote("Authorization: Bearer "+b.AdminToken), b.BaseURL, key.Name)
			fmt.Fprintf(&sb, "  %s\n", comment.Render("# then log in and use the access_token as Authorization: Bearer <token>:"))
		} else {
			fmt.Fprintf(&sb, "  %s\n", comment.Render("# Log in and use the access_token as Authorization: Bearer <token>:"))
		}
		fmt.Fprintf(&sb, "  %s -H %s -d authtype=0 -d userid=%s -d password=%s %s/api/v1/login\n",
			curl, keyHdr, shellQuote(user), shellQuote(pass), b.BaseURL)
	}
	fmt.Fprintf(&sb, "  %s\n", comment.Render("# The whole walk with a trusted Ed25519 device: docs/walkthrough-curl.md"))

	fmt.Fprintf(&sb, "\nStop with Ctrl-C. Request logs go to stderr.\n%s\n", b.ListenLine())
	return sb.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shellQuote quotes s for a POSIX shell when it holds anything but safe
// characters.
func shellQuote(s string) string {
	safe := true
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:=@%+,", c)) {
			safe = false
			break
		}
	}
	if safe && s != "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
