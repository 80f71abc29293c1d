package adminweb

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"html/template"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/paragon-cli/paragon/server/internal/throttle"
)

//go:embed templates/*.html static/admin.css
var assets embed.FS

const (
	// cookieName names the session cookie. It holds a random session id, never
	// the admin token.
	cookieName = "paragon_admin"
	// sessionTTL is how long a sign-in lasts, measured on the wall clock (not
	// the server's fake clock, which the page itself moves).
	sessionTTL = 12 * time.Hour
	// maxSessions bounds the memory the session table can take.
	maxSessions = 256
	// maxFormBytes bounds a posted form.
	maxFormBytes = 64 << 10
)

// New returns the handler for the administrator web page: /admin and the
// paths below it, except /admin/api/, which the server serves itself. It
// keeps sign-in sessions in memory; the handler is safe for concurrent use.
// Wrong admin tokens at sign-in are counted in guard, which the server
// shares with its admin API so that both count against one budget; nil
// gives the page a count of its own.
func New(b Backend, guard *throttle.Limiter) http.Handler {
	h, hd := newHandler(b)
	if guard != nil {
		h.limiter = guard
	}
	return hd
}

// newHandler builds the page's state and its HTTP handler; tests reach
// into the state (the session clock).
func newHandler(b Backend) (*handler, http.Handler) {
	h := &handler{
		b:        b,
		now:      time.Now,
		sessions: map[[32]byte]*session{},
		limiter:  throttle.New(),
		wait:     throttle.Wait,
		pages:    map[string]*template.Template{},
	}
	h.limiter.Now = func() time.Time { return h.now() }
	for _, name := range []string{"login", "admin"} {
		h.pages[name] = parsePage(name)
	}
	h.pages["error"] = errorPage()
	css, err := assets.ReadFile("static/admin.css")
	if err != nil {
		panic(err) // embedded at build time: cannot happen
	}
	h.css = css

	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin", h.showAdmin)
	// The page answers at /admin/ too (no redirect), so that it works
	// however the server mounts it, without a redirect loop.
	mux.HandleFunc("GET /admin/{$}", h.showAdmin)
	mux.HandleFunc("GET /admin/login", h.showLogin)
	mux.HandleFunc("POST /admin/login", h.login)
	mux.HandleFunc("POST /admin/logout", h.form(h.logout))
	mux.HandleFunc("GET /admin/static/admin.css", h.serveCSS)
	mux.HandleFunc("POST /admin/devices/{id}/approve", h.action(h.approve))
	mux.HandleFunc("POST /admin/devices/{id}/refuse", h.action(h.refuse))
	mux.HandleFunc("POST /admin/devices/{id}/untrust", h.action(h.untrust))
	mux.HandleFunc("POST /admin/keys/{name}", h.action(h.updateKey))
	mux.HandleFunc("POST /admin/settings", h.action(h.updateSettings))
	mux.HandleFunc("POST /admin/clock", h.action(h.advanceClock))
	mux.HandleFunc("POST /admin/users/{username}/revoke", h.action(h.revokeUser))
	mux.HandleFunc("/admin/", h.notFound)

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, http.StatusForbidden, "Request refused",
			"This form was sent from another site, so it was not accepted.", false)
	}))
	return h, securityHeaders(cop.Handler(mux))
}

// parsePage parses templates/name.html in the layout.
func parsePage(name string) *template.Template {
	return template.Must(template.New(name).Funcs(funcs).ParseFS(assets,
		"templates/layout.html", "templates/"+name+".html"))
}

// errorPage is the error page, parsed once.
var errorPage = sync.OnceValue(func() *template.Template { return parsePage("error") })

// WriteError answers with the page's error page (status, a title and a
// message) and its security headers, for a request to the page that the
// server refuses before the page sees it.
func WriteError(w http.ResponseWriter, status int, title, msg string) {
	setSecurityHeaders(w.Header())
	render(w, errorPage(), status, errorData{Title: title, Message: msg})
}

// handler serves the page. Sessions live in memory only: restarting the
// server signs every administrator out.
type handler struct {
	b     Backend
	now   func() time.Time // wall clock for session expiry
	pages map[string]*template.Template
	css   []byte

	// limiter slows down wrong admin tokens by client address; wait makes
	// the pause it asks for.
	limiter *throttle.Limiter
	wait    func(context.Context, time.Duration) bool

	mu       sync.Mutex
	sessions map[[32]byte]*session // by SHA-256 of the cookie value
}

// session is one signed-in browser.
type session struct {
	csrf    string
	expires time.Time
	flash   *flash
}

// flash is a one-shot message shown on the next page view.
type flash struct {
	Error bool
	Text  string
}

// securityHeaders sets the headers every response of the page carries: no
// framing, no outside resources, no caching.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		next.ServeHTTP(w, r)
	})
}

func setSecurityHeaders(hd http.Header) {
	hd.Set("Content-Security-Policy", "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cache-Control", "no-store")
}

func (h *handler) serveCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	_, _ = w.Write(h.css)
}

func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.renderError(w, http.StatusNotFound, "Page not found",
		"There is no such page. The administration page is at /admin.", false)
}

// randomToken returns 32 random bytes, base64url encoded.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

func sessionKey(id string) [32]byte { return sha256.Sum256([]byte(id)) }

// newSession stores a fresh session and returns its cookie value.
func (h *handler) newSession() string {
	id := randomToken()
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.sessions) >= maxSessions {
		var oldestKey [32]byte
		var oldest time.Time
		for k, s := range h.sessions {
			if !now.Before(s.expires) {
				delete(h.sessions, k)
				continue
			}
			if oldest.IsZero() || s.expires.Before(oldest) {
				oldest, oldestKey = s.expires, k
			}
		}
		if len(h.sessions) >= maxSessions {
			delete(h.sessions, oldestKey)
		}
	}
	h.sessions[sessionKey(id)] = &session{csrf: randomToken(), expires: now.Add(sessionTTL)}
	return id
}

// current returns the session of the request's cookie, or nil when there is
// none or it has expired. The returned value is a copy.
func (h *handler) current(r *http.Request) (key [32]byte, s session, ok bool) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return key, s, false
	}
	key = sessionKey(c.Value)
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.sessions[key]
	if p == nil {
		return key, s, false
	}
	if !h.now().Before(p.expires) {
		delete(h.sessions, key)
		return key, s, false
	}
	return key, *p, true
}

// setFlash stores a message for the session's next page view.
func (h *handler) setFlash(key [32]byte, f flash) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p := h.sessions[key]; p != nil {
		p.flash = &f
	}
}

// takeFlash removes and returns the session's pending message.
func (h *handler) takeFlash(key [32]byte) *flash {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.sessions[key]
	if p == nil {
		return nil
	}
	f := p.flash
	p.flash = nil
	return f
}

func (h *handler) dropSession(key [32]byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.sessions, key)
}

func setSessionCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     cookieName,
		Value:    value,
		Path:     "/admin",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
}

// form wraps a handler of a state-changing form: it needs a live session and
// the session's CSRF token in the form field "csrf" (compared in constant
// time); otherwise it answers 403 and does not call next.
func (h *handler) form(next func(http.ResponseWriter, *http.Request, [32]byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, s, ok := h.current(r)
		if !ok {
			h.renderError(w, http.StatusForbidden, "Signed out",
				"You are not signed in (or your session has ended), so nothing was changed. Sign in and try again.", true)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			h.renderError(w, http.StatusBadRequest, "Bad request", "The form could not be read.", false)
			return
		}
		got := r.PostForm.Get("csrf")
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) != 1 {
			h.renderError(w, http.StatusForbidden, "Request refused",
				"The form did not carry this session's security token, so nothing was changed. Reload the administration page and try again.", false)
			return
		}
		next(w, r, key)
	}
}

// action wraps an action that changes the server: after the CSRF check it
// runs do, keeps its outcome as a flash message and redirects to the page
// (Post/Redirect/Get).
func (h *handler) action(do func(r *http.Request) flash) http.HandlerFunc {
	return h.form(func(w http.ResponseWriter, r *http.Request, key [32]byte) {
		h.setFlash(key, do(r))
		http.Redirect(w, r, "/admin", http.StatusSeeOther)
	})
}

// render executes a page into a buffer first, so that a template error
// becomes a clean 500 and not half a page.
func (h *handler) render(w http.ResponseWriter, status int, page string, data any) {
	render(w, h.pages[page], status, data)
}

func render(w http.ResponseWriter, t *template.Template, status int, data any) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		slog.Error("admin page: rendering failed", "page", t.Name(), "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorData struct {
	Title   string
	Message string
	SignIn  bool
}

func (h *handler) renderError(w http.ResponseWriter, status int, title, msg string, signIn bool) {
	h.render(w, status, "error", errorData{Title: title, Message: msg, SignIn: signIn})
}
