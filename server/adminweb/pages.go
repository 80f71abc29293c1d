package adminweb

import (
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/paragon-cli/paragon/server/internal/throttle"
)

type loginData struct {
	Title  string
	Error  string
	Notice string
}

func (h *handler) showLogin(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := h.current(r); ok {
		http.Redirect(w, r, "/admin", http.StatusSeeOther)
		return
	}
	d := loginData{Title: "Sign in"}
	if r.URL.Query().Get("signed_out") != "" {
		d.Notice = "You have signed out."
	}
	h.render(w, http.StatusOK, "login", d)
}

// login checks the admin token and, when it is right, starts a session.
// Cross-site posts never get here (http.CrossOriginProtection).
func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.renderError(w, http.StatusBadRequest, "Bad request", "The form could not be read.", false)
		return
	}
	tok := strings.TrimSpace(r.PostForm.Get("token"))
	if tok == "" {
		h.render(w, http.StatusUnauthorized, "login", loginData{Title: "Sign in",
			Error: "Enter the admin token."})
		return
	}
	// The right token always signs in, however many wrong ones came from
	// the same address (every local process is 127.0.0.1); wrong ones
	// beyond the budget are answered after a pause.
	addr := throttle.Key(r.RemoteAddr)
	if !h.b.CheckAdminToken(tok) {
		if d := h.limiter.Fail(addr); d > 0 {
			if !h.wait(r.Context(), d) {
				return
			}
			h.render(w, http.StatusTooManyRequests, "login", loginData{Title: "Sign in",
				Error: "That admin token is not right either. After many wrong tokens from your address, each wrong one is answered after a pause; the right token still signs in at once."})
			return
		}
		h.render(w, http.StatusUnauthorized, "login", loginData{Title: "Sign in",
			Error: "That admin token is not right. paragon server prints the token when it starts (or takes it from --admin-token)."})
		return
	}
	if key, _, ok := h.current(r); ok {
		h.dropSession(key) // a new sign-in always gets a new session id
	}
	id := h.newSession()
	setSessionCookie(w, r, id, int(sessionTTL/time.Second))
	http.Redirect(w, r, "/admin", http.StatusSeeOther)
}

func (h *handler) logout(w http.ResponseWriter, r *http.Request, key [32]byte) {
	h.dropSession(key)
	setSessionCookie(w, r, "", -1)
	http.Redirect(w, r, "/admin/login?signed_out=1", http.StatusSeeOther)
}

// adminData is what the main page shows.
type adminData struct {
	Title     string
	CSRF      string
	Flash     *flash
	Now       time.Time
	FakeClock bool
	Pending   []Device
	Trusted   []Device
	Refused   []Device
	Keys      []keyView
	Settings  []settingView
	Users     []User
}

// keyView is a key with its form fields pre-formatted.
type keyView struct {
	Key
	Index       int
	Expires     string // form value: RFC 3339 in UTC, or empty for never
	Expired     bool
	AllowedIPs  string
	Permissions string
}

// settingView is one editable lifetime.
type settingView struct {
	Name  string // form field
	Label string
	Help  string
	Value string
}

func (h *handler) showAdmin(w http.ResponseWriter, r *http.Request) {
	key, s, ok := h.current(r)
	if !ok {
		http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
		return
	}
	now := h.b.Now()
	d := adminData{
		Title:     "Administration",
		CSRF:      s.csrf,
		Flash:     h.takeFlash(key),
		Now:       now,
		FakeClock: h.b.FakeClock(),
		Users:     h.b.Users(),
	}
	devs := h.b.Devices()
	sort.SliceStable(devs, func(i, j int) bool {
		if !devs[i].RegisteredAt.Equal(devs[j].RegisteredAt) {
			return devs[i].RegisteredAt.Before(devs[j].RegisteredAt)
		}
		return devs[i].ClientID < devs[j].ClientID
	})
	for _, dv := range devs {
		switch dv.Status {
		case "pending":
			d.Pending = append(d.Pending, dv)
		case "trusted":
			d.Trusted = append(d.Trusted, dv)
		default:
			d.Refused = append(d.Refused, dv)
		}
	}
	for i, k := range h.b.Keys() {
		kv := keyView{Key: k, Index: i,
			AllowedIPs:  strings.Join(k.AllowedIPs, ", "),
			Permissions: strings.Join(k.Permissions, ", "),
		}
		if !k.ExpiresAt.IsZero() {
			kv.Expires = k.ExpiresAt.UTC().Format(time.RFC3339)
			kv.Expired = !now.Before(k.ExpiresAt)
		}
		d.Keys = append(d.Keys, kv)
	}
	st := h.b.Settings()
	d.Settings = []settingView{
		{"access_token_ttl", "Access token lifetime", "User and device access tokens; usually 1h.", shortDuration(st.AccessTokenTTL)},
		{"refresh_token_ttl", "Refresh token lifetime", "Usually 2160h (90 days).", shortDuration(st.RefreshTokenTTL)},
		{"device_code_ttl", "Device code lifetime", "How long a registration waits for approval; usually 72h.", shortDuration(st.DeviceCodeTTL)},
		{"refresh_grace", "Refresh grace", "How long a just-rotated refresh token still works; 0s for none.", shortDuration(st.RefreshGrace)},
	}
	h.render(w, http.StatusOK, "admin", d)
}

// shortDuration formats d as a Go duration without trailing zero units:
// "1h", "1h30m", "90s", "0s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
