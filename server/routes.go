package server

import (
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/paragon-cli/paragon/server/internal/throttle"
)

// routes registers every endpoint of the server as a net/http pattern.
// Answers the mux makes itself (no such path, method not allowed) become
// JSON errors in jsonErrors.
func (s *Server) routes() (all, oauthOnly http.Handler) {
	mux := http.NewServeMux()
	s.oauthRoutes(mux)
	// Section 5: the public API. GET patterns answer HEAD too.
	mux.HandleFunc("GET /api/v1/login", s.login)
	mux.HandleFunc("POST /api/v1/login", s.login)
	mux.Handle("GET /api/v1/version", s.serveAPI(endpoint{fn: "version", h: s.version}))
	// Section 2: the one call that needs no key.
	mux.HandleFunc("HEAD /api/v1/account", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
	})
	mux.Handle("GET /api/v1/account", s.serveAPI(endpoint{fn: "account", h: s.account}))
	mux.Handle("GET /api/v1/users/all", s.serveAPI(endpoint{fn: "users", h: s.usersAll}))
	mux.Handle("GET /api/v1/users", s.serveAPI(endpoint{fn: "users", h: s.usersGet}))
	mux.Handle("PUT /api/v1/users", s.serveAPI(endpoint{fn: "users", h: s.createUser,
		// Before parsing: the new user's password is hashed with bcrypt,
		// work that only an administrator may make us do.
		gate: adminOnly, parse: s.parseNewUser}))
	mux.Handle("DELETE /api/v1/users/{name}", s.serveAPI(endpoint{fn: "users", h: s.deleteUser}))
	mux.Handle("PUT /api/v1/documents", s.serveAPI(endpoint{fn: "documents", h: s.submitDocument, parse: parseDocument}))
	mux.Handle("GET /api/v1/documents/history", s.serveAPI(endpoint{fn: "documents", h: s.history}))

	// Section 7.3: the admin API checks the admin token before routing, so
	// that without it every path answers 401.
	admin := http.NewServeMux()
	s.adminRoutes(admin)
	adminAPI := s.needAdminToken(admin)
	mux.Handle("/admin/api", adminAPI)
	mux.Handle("/admin/api/", adminAPI)
	mux.Handle("/admin", s.adminPage)
	mux.Handle("/admin/", s.adminPage)

	only := http.NewServeMux()
	s.oauthRoutes(only)
	return jsonErrors(mux, true), jsonErrors(only, false)
}

// needAdminToken serves next to callers with the admin token, and 401 to
// others. A wrong token beyond the budget is answered after a pause; the
// right one is never refused, however many wrong ones came from its address
// (every local caller is 127.0.0.1).
func (s *Server) needAdminToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, present, bad := bearer(r)
		if present && !bad && s.checkAdminToken(tok) {
			next.ServeHTTP(w, r)
			return
		}
		e := invalidToken("the admin API needs Authorization: Bearer <admin token>")
		if present {
			if d := s.adminGuard.Fail(throttle.Key(r.RemoteAddr)); d > 0 {
				if !throttle.Wait(r.Context(), d) {
					return
				}
				e = invalidToken("the admin token is wrong; after many wrong tokens from your address each wrong one is answered after a pause (the right one never is)")
			}
		}
		writeErr(w, e)
	})
}

// oauthRoutes registers the OAuth service (section 3) and /healthz.
func (s *Server) oauthRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("POST /oauth/v1/register", answer(s.register))
	mux.Handle("POST /oauth/v1/token", answer(s.token))
}

// answer serves h's status and value as JSON, or its error.
func answer(h func(*http.Request) (int, any, *apiError)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		status, v, e := h(r)
		if e != nil {
			writeErr(w, e)
			return
		}
		writeJSON(w, status, v)
	}
}

// jsonErrors serves mux, turning the answers the mux makes itself into the
// JSON errors of the API: 404 not_found for a path no pattern matches, 405
// method_not_allowed (with the mux's Allow header) for a method no pattern
// of the path allows. A path that is not clean (//, /./, /../) is not found
// rather than redirected: an API client should not follow a redirect with
// its credentials. With page, the administrator's web page (/admin outside
// /admin/api) keeps the answers of its own mux.
func jsonErrors(mux http.Handler, page bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if page && isAdminPage(r.URL.Path) {
			mux.ServeHTTP(w, r)
			return
		}
		if !isCleanPath(r.URL.EscapedPath()) {
			notFound(w, r)
			return
		}
		sw, ok := w.(*statusWriter) // the middleware's: no allocation
		if !ok {
			sw = &statusWriter{ResponseWriter: w}
		}
		sw.muxReq = r
		mux.ServeHTTP(sw, r)
	})
}

// isAdminPage reports whether p belongs to the administrator's web page.
func isAdminPage(p string) bool {
	if p != "/admin" && !strings.HasPrefix(p, "/admin/") {
		return false
	}
	return p != "/admin/api" && !strings.HasPrefix(p, "/admin/api/")
}

// isCleanPath reports whether ServeMux would serve p without redirecting
// to a cleaner path: absolute, no empty, . or .. segments except a final
// slash.
func isCleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	return c == p || (len(p) == len(c)+1 && p[len(c)] == '/' && p[:len(c)] == c)
}

// muxError writes the JSON error for the mux's own answer with status code,
// if it is one: r matched no pattern (404 or 405).
func muxError(w http.ResponseWriter, r *http.Request, code int) bool {
	if r == nil || r.Pattern != "" || (code != http.StatusNotFound && code != http.StatusMethodNotAllowed) {
		return false
	}
	h := w.Header()
	h.Del("X-Content-Type-Options")
	if code == http.StatusNotFound {
		notFound(w, r)
		return true
	}
	writeErr(w, errf(code, "method_not_allowed", "%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, h.Get("Allow")))
	return true
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeErr(w, errf(http.StatusNotFound, "not_found", "no such endpoint: %s %s", r.Method, r.URL.Path))
}

// endpoint is one function of the public API.
type endpoint struct {
	fn string     // the function's name in Key.Permissions
	h  apiHandler // runs with s.mu held and the caller checked
	// parse, if set, reads the body without the lock, after the caller is
	// checked and gate (if set) let it through; h finds the result with
	// argOf.
	parse func(*http.Request) (any, *apiError)
	gate  func(caller) *apiError
}

// apiHandler is one function: it runs with s.mu held and the caller checked.
type apiHandler func(r *http.Request, c caller, now time.Time) (int, any, *apiError)

func (s *Server) serveAPI(ep endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ep.parse != nil {
			// Check the caller before reading a body.
			s.mu.Lock()
			c, e := s.authLocked(r, ep.fn, s.nowLocked())
			if e == nil && ep.gate != nil {
				e = ep.gate(c)
			}
			s.mu.Unlock()
			if e != nil {
				writeErr(w, e)
				return
			}
			arg, e := ep.parse(r)
			if e != nil {
				writeErr(w, e)
				return
			}
			r = r.WithContext(withArg(r.Context(), arg))
		}
		status, v, e := func() (int, any, *apiError) {
			s.mu.Lock()
			defer s.mu.Unlock()
			now := s.nowLocked()
			// Check again: the token may have been revoked while we parsed.
			c, e := s.authLocked(r, ep.fn, now)
			if e != nil {
				return 0, nil, e
			}
			return ep.h(r, c, now)
		}()
		if e != nil {
			writeErr(w, e)
			return
		}
		writeJSON(w, status, v)
	}
}

// adminOnly lets only an administrator create users.
func adminOnly(c caller) *apiError {
	if c.user == nil || !c.user.Admin {
		return errf(http.StatusForbidden, "forbidden", "only an administrator may create users")
	}
	return nil
}

// adminRoutes registers the admin API (section 7.3); routes checks the
// admin token first.
func (s *Server) adminRoutes(mux *http.ServeMux) {
	ok := map[string]string{"status": "ok"}
	handle := func(pattern string, h func(r *http.Request) (int, any, *apiError)) {
		mux.Handle(pattern, answer(h))
	}
	done := func(err error) (int, any, *apiError) {
		if err != nil {
			return 0, nil, adminErr(err)
		}
		return http.StatusOK, ok, nil
	}
	handle("GET /admin/api/devices", func(*http.Request) (int, any, *apiError) {
		items := []deviceJSON{}
		for _, d := range s.devices() {
			items = append(items, deviceJSON{d.ClientID, d.ClientType, d.Description, d.Status, d.RegisteredAt.UTC().Format(time.RFC3339)})
		}
		return http.StatusOK, map[string]any{"items": items}, nil
	})
	handle("POST /admin/api/devices/{id}/approve", func(r *http.Request) (int, any, *apiError) {
		return done(s.setDeviceStatus(r.PathValue("id"), statusTrusted))
	})
	handle("POST /admin/api/devices/{id}/refuse", func(r *http.Request) (int, any, *apiError) {
		return done(s.setDeviceStatus(r.PathValue("id"), statusRefused))
	})
	handle("DELETE /admin/api/devices/{id}", func(r *http.Request) (int, any, *apiError) {
		return done(s.untrustDevice(r.PathValue("id")))
	})
	handle("GET /admin/api/keys", func(*http.Request) (int, any, *apiError) {
		return http.StatusOK, map[string]any{"items": s.keys()}, nil
	})
	handle("PATCH /admin/api/keys/{name}", s.adminPatchKey)
	handle("GET /admin/api/settings", func(*http.Request) (int, any, *apiError) {
		return http.StatusOK, settingsToJSON(s.settings()), nil
	})
	handle("PATCH /admin/api/settings", s.adminPatchSettings)
	handle("POST /admin/api/revoke", s.adminRevoke)
	handle("GET /admin/api/clock", func(*http.Request) (int, any, *apiError) {
		return http.StatusOK, map[string]any{"now": s.Now().UTC().Format(time.RFC3339), "fake": s.fake}, nil
	})
	handle("POST /admin/api/clock", s.adminAdvanceClock)
	handle("GET /admin/api/faults", func(*http.Request) (int, any, *apiError) {
		return http.StatusOK, map[string]any{"items": s.faults()}, nil
	})
	handle("POST /admin/api/faults", s.adminAddFault)
	handle("DELETE /admin/api/faults", func(*http.Request) (int, any, *apiError) {
		s.clearFaults()
		return http.StatusOK, ok, nil
	})
	handle("POST /admin/api/reset", func(*http.Request) (int, any, *apiError) {
		return done(s.reset())
	})
}
