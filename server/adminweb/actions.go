package adminweb

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// Each action returns the message to show after the redirect: what was
// done, or why nothing was. Backend errors are shown as they are (the
// Backend promises they carry no secrets).

func done(format string, args ...any) flash {
	return flash{Text: fmt.Sprintf(format, args...)}
}

func failed(format string, args ...any) flash {
	return flash{Error: true, Text: fmt.Sprintf(format, args...)}
}

func (h *handler) approve(r *http.Request) flash {
	id := r.PathValue("id")
	if err := h.b.ApproveDevice(id); err != nil {
		return failed("Could not approve device %q: %v", id, err)
	}
	return done("Approved device %q: it gets its device token on its next request.", id)
}

func (h *handler) refuse(r *http.Request) flash {
	id := r.PathValue("id")
	if err := h.b.RefuseDevice(id); err != nil {
		return failed("Could not refuse device %q: %v", id, err)
	}
	return done("Refused device %q: its next token request gets access_denied.", id)
}

func (h *handler) untrust(r *http.Request) flash {
	id := r.PathValue("id")
	if err := h.b.UntrustDevice(id); err != nil {
		return failed("Could not untrust device %q: %v", id, err)
	}
	return done("Untrusted device %q: its device tokens no longer work.", id)
}

func (h *handler) revokeUser(r *http.Request) flash {
	u := r.PathValue("username")
	if err := h.b.RevokeUser(u); err != nil {
		return failed("Could not revoke the tokens of %q: %v", u, err)
	}
	return done("Revoked every token of %q.", u)
}

// updateKey applies the key form. The switches are checkboxes, which a
// browser leaves out when unchecked, so all four are always set; a text
// field is changed only when the form has it.
func (h *handler) updateKey(r *http.Request) flash {
	name := r.PathValue("name")
	f := r.PostForm
	checked := func(field string) *bool { v := f.Get(field) != ""; return &v }
	p := KeyPatch{
		Active:               checked("active"),
		AllowUnauthenticated: checked("allow_unauthenticated"),
		AllowUntrusted:       checked("allow_untrusted"),
		AutoTrust:            checked("auto_trust"),
	}
	if f.Has("expires_at") {
		t, err := parseExpiry(f.Get("expires_at"))
		if err != nil {
			return failed("Key %q not saved: %v", name, err)
		}
		p.ExpiresAt = &t
	}
	if f.Has("allowed_ips") {
		ips := splitList(f.Get("allowed_ips"))
		for _, ip := range ips {
			if _, err := netip.ParsePrefix(ip); err == nil {
				continue
			}
			if _, err := netip.ParseAddr(ip); err != nil {
				return failed("Key %q not saved: allowed IPs: %q is neither an IP address nor a CIDR range such as 10.0.0.0/8", name, ip)
			}
		}
		p.AllowedIPs = &ips
	}
	if f.Has("permissions") {
		perms := splitList(f.Get("permissions"))
		p.Permissions = &perms
	}
	if err := h.b.UpdateKey(name, p); err != nil {
		return failed("Key %q not saved: %v", name, err)
	}
	return done("Saved key %q.", name)
}

// parseExpiry reads a key's expiry: empty for never, RFC 3339, a
// datetime-local value (taken as UTC) or a date (midnight UTC).
func parseExpiry(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("expiry %q is not a date such as 2027-01-31 or 2027-01-31T12:00:00Z (leave it empty for never)", s)
}

// splitList splits a comma-separated field, trimming spaces and dropping
// empty items. It never returns nil, so that an empty field clears the list.
func splitList(s string) []string {
	out := []string{}
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// updateSettings applies the lifetimes form; a field the form lacks keeps
// its current value.
func (h *handler) updateSettings(r *http.Request) flash {
	s := h.b.Settings()
	fields := []struct {
		name, label string
		dst         *time.Duration
		zeroOK      bool
	}{
		{"access_token_ttl", "access token lifetime", &s.AccessTokenTTL, false},
		{"refresh_token_ttl", "refresh token lifetime", &s.RefreshTokenTTL, false},
		{"device_code_ttl", "device code lifetime", &s.DeviceCodeTTL, false},
		{"refresh_grace", "refresh grace", &s.RefreshGrace, true},
	}
	for _, fd := range fields {
		if !r.PostForm.Has(fd.name) {
			continue
		}
		v := strings.TrimSpace(r.PostForm.Get(fd.name))
		d, err := time.ParseDuration(v)
		if err != nil {
			return failed("Lifetimes not saved: %s %q is not a Go duration such as 1h, 90m or 2160h", fd.label, v)
		}
		if d < 0 || (d == 0 && !fd.zeroOK) {
			return failed("Lifetimes not saved: %s must be more than zero", fd.label)
		}
		*fd.dst = d
	}
	if err := h.b.UpdateSettings(s); err != nil {
		return failed("Lifetimes not saved: %v", err)
	}
	return done("Saved the account lifetimes.")
}

func (h *handler) advanceClock(r *http.Request) flash {
	if !h.b.FakeClock() {
		return failed("The server runs on the real clock, which cannot be moved. Start it with --fake-clock to move time.")
	}
	v := strings.TrimSpace(r.PostForm.Get("advance"))
	d, err := time.ParseDuration(v)
	if err != nil {
		return failed("Clock not moved: %q is not a Go duration such as 61m or 24h", v)
	}
	if d <= 0 {
		return failed("Clock not moved: the clock only moves forward; give a duration above zero.")
	}
	now, err := h.b.AdvanceClock(d)
	if err != nil {
		return failed("Clock not moved: %v", err)
	}
	return done("Clock advanced by %s; it is now %s.", shortDuration(d), now.UTC().Format("2006-01-02 15:04:05 UTC"))
}
