// Package server is paragon's reference server: an http.Handler that
// implements the Dispatcher Paragon Cloud auth protocol as described in
// docs/protocol.md (API keys, device trust through the OAuth service,
// login, token refresh with rotation, the API functions) plus the testing
// interface of section 7 (fake clock, admin API, fault injection, reset).
//
// A Server keeps its state in memory behind one mutex and writes every change
// through a Store before the response that reveals it is sent. Without a
// Store nothing outlives the Server; NewMemoryStore keeps records for servers
// started after it in the same process; OpenBoltStore persists to a bbolt
// file.
// Login throttling and injected faults are deliberately in memory only: a
// restart forgets them.
package server

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/paragon-cli/paragon/server/internal/throttle"
)

// Version is the version the server reports at GET /api/v1/version.
const Version = "1.0.0-paragon"

// maxBody is the largest request body accepted (1 MiB).
const maxBody = 1 << 20

// maxPendingDevices bounds the devices waiting for approval: anyone with
// the API key can register, and each pending device (its key up to 16 KiB)
// is kept until its device code expires.
const maxPendingDevices = 10000

// maxDocumentsPerUser bounds each user's documents (there is no function
// to delete one; POST /admin/api/reset forgets them).
const maxDocumentsPerUser = 10000

// sweepInterval is how often expired tokens and stale devices are swept.
const sweepInterval = time.Minute

// Options configure a Server. The zero value is a usable demo server.
type Options struct {
	Account      *Account         // nil: DemoAccount()
	AdminToken   string           // "": random 256-bit hex, read with AdminToken()
	FakeClock    bool             // time stands still unless advanced via POST /admin/api/clock
	Now          func() time.Time // base clock; nil: time.Now
	PasswordCost int              // bcrypt cost; 0: bcrypt.DefaultCost; tests use bcrypt.MinCost
	Store        Store            // nil: nothing stored, the state lives in memory only
	Logger       *slog.Logger     // nil: discard. Request log: method, path, status, duration. Never secrets.

	// CheckHost makes the server answer only requests whose Host is a
	// loopback name (localhost, 127.0.0.0/8, [::1], with any port) or one
	// of AllowedHosts; others get 421 Misdirected Request. A server on a
	// loopback address wants it: a web page whose name is made to resolve
	// to 127.0.0.1 (DNS rebinding) would otherwise reach it. AllowedHosts
	// (host names or IP addresses, a port is ignored) turn it on too.
	CheckHost    bool
	AllowedHosts []string
}

// Server is the reference server. It is safe for concurrent use.
type Server struct {
	log        *slog.Logger
	hosts      hostPolicy
	adminGuard *throttle.Limiter // wrong admin tokens by address, on the admin API and the page
	adminToken string
	adminHash  [32]byte
	store      Store
	baseNow    func() time.Time
	fake       bool
	fakeBase   time.Time
	cost       int
	dummyHash  []byte
	maxPending int // new devices waiting for approval at once (maxPendingDevices)
	maxDocs    int // documents per user (maxDocumentsPerUser)
	// maxThrottled bounds the login throttling table (maxThrottledIDs).
	maxThrottled int
	maxFamilies  int // live token families per user or device (maxFamiliesPerOwner)

	initial   *Account
	initUsers map[string]*user

	mu      sync.Mutex
	st      *state
	commits commitQueue // changes on their way to the store (commit.go)
	faulty  atomic.Bool // some fault is injected (mirrors len(st.faults) > 0)

	handler   http.Handler
	oauth     http.Handler
	adminPage http.Handler

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// New builds a Server from opts: it hashes the account's passwords, loads the
// store's records over the account's start state and sweeps expired state.
// It starts a background sweeper that Close stops.
func New(opts Options) (*Server, error) {
	acct := opts.Account
	if acct == nil {
		acct = DemoAccount()
	}
	acct = acct.clone()
	if err := acct.Settings.validate(); err != nil {
		return nil, fmt.Errorf("server: account: %w", err)
	}
	cost := opts.PasswordCost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("server: password cost %d out of range %d..%d", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	s := &Server{
		log:     opts.Logger,
		store:   opts.Store,
		baseNow: opts.Now,
		fake:    opts.FakeClock,
		cost:    cost,
		initial: acct,

		maxPending:   maxPendingDevices,
		maxDocs:      maxDocumentsPerUser,
		maxThrottled: maxThrottledIDs,
		maxFamilies:  maxFamiliesPerOwner,
		stop:         make(chan struct{}),
		done:         make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	hosts, err := newHostPolicy(opts.CheckHost, opts.AllowedHosts)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.hosts = hosts
	s.adminGuard = throttle.New()
	if s.baseNow == nil {
		s.baseNow = time.Now
	}
	s.fakeBase = s.baseNow()
	s.commits.cond.L = &s.commits.mu
	if s.store == nil {
		s.store = nopStore{}
	}
	s.adminToken = opts.AdminToken
	if s.adminToken == "" {
		var raw [32]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return nil, err
		}
		s.adminToken = hex.EncodeToString(raw[:])
	}
	s.adminHash = sha256.Sum256([]byte(s.adminToken))

	s.initUsers = map[string]*user{}
	for _, u := range acct.Users {
		if err := validUsername(u.Username); err != nil {
			return nil, fmt.Errorf("server: account: %w", err)
		}
		if _, dup := s.initUsers[u.Username]; dup {
			return nil, fmt.Errorf("server: account: duplicate username %q", u.Username)
		}
		nu := &user{Username: u.Username, FullName: u.FullName, Email: u.Email, CardID: u.CardID, ShortID: u.ShortID, Admin: u.Admin}
		if u.Password != "" {
			h, err := bcrypt.GenerateFromPassword([]byte(u.Password), cost)
			if err != nil {
				return nil, fmt.Errorf("server: hashing the password of %q: %w", u.Username, err)
			}
			nu.PasswordHash = h
		}
		s.initUsers[u.Username] = nu
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("paragon-dummy-password"), cost)
	if err != nil {
		return nil, err
	}
	s.dummyHash = dummy

	st, err := newState(acct, s.initUsers)
	if err != nil {
		return nil, fmt.Errorf("server: account: %w", err)
	}
	if err := s.store.Load(func(r Record) error { return st.load(r, s.fake, s.fakeBase) }); err != nil {
		return nil, fmt.Errorf("server: loading the store: %w", err)
	}
	s.st = st
	if err := s.Sweep(); err != nil {
		return nil, fmt.Errorf("server: sweeping the store: %w", err)
	}

	s.adminPage = s.newAdminPage()
	all, oauthOnly := s.routes()
	s.handler = s.middleware(all)
	s.oauth = s.middleware(oauthOnly)
	go s.sweeper()
	return s, nil
}

// ServeHTTP serves everything: /api/v1, /oauth/v1, /admin/api, /admin and
// /healthz.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// OAuthHandler serves only /oauth/v1/* and /healthz, for a second listener
// that mimics the vendor's separate OAuth service.
func (s *Server) OAuthHandler() http.Handler {
	return s.oauth
}

// AdminToken returns the admin API's bearer token.
func (s *Server) AdminToken() string {
	return s.adminToken
}

// Close stops the background sweeper and closes the store.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		_ = s.settle(s.failureMark()) // what is queued is written before the store closes
		s.mu.Lock()
		s.closeErr = s.store.Close()
		s.mu.Unlock()
	})
	return s.closeErr
}

// Sweep forgets expired tokens, families with nothing live, refused devices
// and pending devices whose device code expired, and writes the change to the
// store. The server sweeps on start and every minute; tests call it directly.
func (s *Server) Sweep() error {
	mark := s.failureMark()
	s.mu.Lock()
	s.queueLocked(s.st.sweep(s.nowLocked())...)
	s.mu.Unlock()
	return s.settle(mark)
}

func (s *Server) sweeper() {
	defer close(s.done)
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.Sweep(); err != nil {
				s.log.Error("sweep failed", "err", err)
			}
		}
	}
}

// nowLocked is the server clock; s.mu must be held.
func (s *Server) nowLocked() time.Time {
	if s.fake {
		return s.fakeBase.Add(s.st.offset)
	}
	return s.baseNow()
}

// Now returns the server clock (the fake clock when enabled).
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nowLocked()
}

func (s *Server) checkAdminToken(tok string) bool {
	h := hashToken(tok)
	return subtle.ConstantTimeCompare(h[:], s.adminHash[:]) == 1
}

// apiError is an error answer.
type apiError struct {
	status int
	code   string
	desc   string
	header map[string]string
}

func (e *apiError) Error() string { return e.code + ": " + e.desc }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, desc: fmt.Sprintf(format, args...)}
}

// writeJSON answers v as JSON. Characters such as < and > stay as they are
// (no \u003c): the answer is never HTML, and people read it in a terminal.
func writeJSON(w http.ResponseWriter, status int, v any) {
	e := jsonEncoders.Get().(*jsonEncoder)
	defer jsonEncoders.Put(e)
	e.buf.Reset()
	if b, ok := v.(jsonBytes); ok {
		e.buf.Write(b)
		e.buf.WriteByte('\n')
	} else if err := e.enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		e.buf.Reset()
		e.buf.WriteString(`{"error":"server_error","error_description":"response could not be encoded"}` + "\n")
	}
	h := w.Header()
	h["Content-Type"], h["Cache-Control"] = jsonContentType, noStore
	w.WriteHeader(status)
	_, _ = w.Write(e.buf.Bytes())
	if e.buf.Cap() > 64<<10 {
		e.buf = bytes.Buffer{} // do not keep a large answer's buffer around
	}
}

// jsonBytes is an answer encoded in advance (json.Marshal), for writeJSON.
type jsonBytes []byte

// jsonEncoder is an encoder writing into its own buffer; writeJSON reuses
// them, so that encoding an answer allocates nothing of its own.
type jsonEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var jsonEncoders = sync.Pool{New: func() any {
	e := &jsonEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

// The header values of every JSON answer, shared: net/http only reads them,
// and Header.Set and Add replace the slice or append to it (beyond its
// capacity of one: a new array), never write into it.
var (
	jsonContentType = []string{"application/json"}
	noStore         = []string{"no-store"}
)

func writeErr(w http.ResponseWriter, e *apiError) {
	for k, v := range e.header {
		w.Header().Set(k, v)
	}
	writeJSON(w, e.status, map[string]string{"error": e.code, "error_description": e.desc})
}

// readBody reads the whole body, at most maxBody bytes.
func readBody(r *http.Request) ([]byte, *apiError) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge()
		}
		return nil, errf(http.StatusBadRequest, "invalid_request", "the body could not be read")
	}
	if len(b) > maxBody {
		return nil, tooLarge()
	}
	return b, nil
}

func tooLarge() *apiError {
	return errf(http.StatusBadRequest, "invalid_request", "the body is larger than 1 MiB")
}
