package client

import (
	"context"
	"crypto/ed25519"
	"sync"
	"time"
)

// TokenSource supplies the token for a request.
//
// Token returns a token that is valid now, refreshing it first if needed, or
// an error. Implementations must be safe for concurrent use by multiple
// goroutines, and must honour ctx for waiting (a caller whose ctx ends gets
// ctx.Err() at once). The returned *Token is shared: callers must not modify
// it.
type TokenSource interface {
	Token(ctx context.Context) (*Token, error)
}

// Refresher is a TokenSource that can be told that the server rejected a
// token that still looked valid (a 401 or 403, e.g. after a revocation or
// with a server clock ahead of ours).
//
// ForceRefresh renews the token even though it has not expired, unless the
// source's current token already differs from stale (another caller
// refreshed meanwhile), in which case that one is returned. It has the same
// concurrency contract as Token: concurrent calls cause one refresh.
type Refresher interface {
	TokenSource
	ForceRefresh(ctx context.Context, stale *Token) (*Token, error)
}

// StaticTokenSource returns a TokenSource that always returns t and never
// refreshes (for a bare device token string, use
// StaticTokenSource(&Token{AccessToken: s})).
func StaticTokenSource(t *Token) TokenSource { return staticSource{t} }

type staticSource struct{ t *Token }

func (s staticSource) Token(context.Context) (*Token, error) {
	if s.t == nil || s.t.AccessToken == "" {
		return nil, errorf("static token source: no token")
	}
	return s.t, nil
}

// DefaultRefreshTimeout bounds one refresh (lock, load, request, persist)
// when SourceConfig.RefreshTimeout is zero.
const DefaultRefreshTimeout = 2 * time.Minute

// TokenStore is what a [RefreshingSource] needs from durable storage: the
// token saved across processes, and a lock that makes "load, refresh if still
// needed, save" one step among all processes sharing the storage. It knows
// nothing of the protocol; the CLI backs it with the OS keyring and a file
// lock (see the Example of TokenStore for a small adapter).
//
// Concurrency contract: a RefreshingSource calls its store from one refresh
// at a time (calls never overlap within one source), as Lock, Load, Save (if
// it refreshed), unlock; and Save alone to retry a save that failed.
// Several sources, in one process or many, may share one storage: Lock must
// exclude all of them until unlock is called.
type TokenStore interface {
	// Lock takes the storage's lock, waiting for another holder to let go
	// and honouring ctx while it waits (returning ctx's error when it
	// ends). On success unlock is non-nil and releases the lock.
	Lock(ctx context.Context) (unlock func(), err error)
	// Load reads the stored token afresh (not from a cache: another process
	// may have refreshed meanwhile); (nil, nil) means nothing is stored.
	Load() (*Token, error)
	// Save stores a newly obtained token with its rotated refresh token,
	// whole or not at all as far as the storage allows (a half-saved pair
	// must keep its refresh token). It is called before the new access
	// token is given to anyone. If it fails, the refresh's result is an
	// error wrapping [ErrPersist] and Save's error; the token is kept in
	// memory and Save is retried on the next call.
	Save(*Token) error
}

// SourceConfig configures a [RefreshingSource].
type SourceConfig struct {
	// Token is the initial token; nil means none yet (Store.Load may supply
	// one).
	Token *Token
	// Refresh exchanges a refresh token for a new pair. [Client.UserTokenSource]
	// and [Client.Device] set it.
	Refresh func(ctx context.Context, refreshToken string) (*Token, error)
	// Skew: a token is refreshed once it expires within Skew. Zero means
	// [DefaultExpirySkew]; negative means no skew.
	Skew time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Store, if set, keeps the token in durable storage and coordinates
	// refreshes with other processes; nil means memory only.
	Store TokenStore
	// RefreshTimeout bounds one refresh; zero means [DefaultRefreshTimeout].
	// A refresh runs to completion (and persists) even if the callers
	// waiting for it give up, so that a rotated token is never lost.
	RefreshTimeout time.Duration
	// NoTokenErr is wrapped into the error returned when there is no
	// refresh token to renew an expired token with; nil means
	// [ErrLoginRequired].
	NoTokenErr error
}

// RefreshingSource is the reuse-and-refresh TokenSource: it hands out its
// token until it expires within the skew, then refreshes it once for all
// concurrent callers (single flight), saving the rotated token in its
// [TokenStore] before anyone gets the new access token. It implements
// [Refresher] and is safe for concurrent use by multiple goroutines.
type RefreshingSource struct {
	cfg     SourceConfig
	mu      sync.Mutex
	tok     *Token
	unsaved bool // tok came from a refresh whose Store.Save failed
	flight  *flight
}

type flight struct {
	done chan struct{}
	tok  *Token
	err  error
}

// NewRefreshingSource returns a RefreshingSource for cfg.
func NewRefreshingSource(cfg SourceConfig) *RefreshingSource {
	if cfg.Skew == 0 {
		cfg.Skew = DefaultExpirySkew
	} else if cfg.Skew < 0 {
		cfg.Skew = 0
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RefreshTimeout <= 0 {
		cfg.RefreshTimeout = DefaultRefreshTimeout
	}
	if cfg.NoTokenErr == nil {
		cfg.NoTokenErr = ErrLoginRequired
	}
	return &RefreshingSource{cfg: cfg, tok: cfg.Token}
}

// UserTokenSource returns a RefreshingSource that renews user tokens with
// [Client.RefreshUser] (client_id=api) on this client's clock; a dead
// refresh token yields [ErrLoginRequired]. cfg.Refresh and cfg.Now, if set,
// are kept.
func (c *Client) UserTokenSource(cfg SourceConfig) *RefreshingSource {
	if cfg.Refresh == nil {
		cfg.Refresh = c.RefreshUser
	}
	if cfg.Now == nil {
		cfg.Now = c.now
	}
	return NewRefreshingSource(cfg) // NoTokenErr defaults to ErrLoginRequired
}

// deviceTokenSource returns a RefreshingSource that renews the device
// clientID's token with [Client.RefreshDevice], signed with key; a dead
// refresh token yields [ErrDeviceNotTrusted].
func (c *Client) deviceTokenSource(clientID string, key ed25519.PrivateKey, cfg SourceConfig) *RefreshingSource {
	if cfg.Refresh == nil {
		cfg.Refresh = func(ctx context.Context, rt string) (*Token, error) {
			return c.RefreshDevice(ctx, clientID, key, rt)
		}
	}
	if cfg.Now == nil {
		cfg.Now = c.now
	}
	if cfg.NoTokenErr == nil {
		cfg.NoTokenErr = ErrDeviceNotTrusted
	}
	return NewRefreshingSource(cfg)
}

// Current returns the token held now, without refreshing (nil if none).
func (s *RefreshingSource) Current() *Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tok
}

// Token returns the current token if it is valid for longer than the skew
// and saved; otherwise it joins or starts the single refresh.
func (s *RefreshingSource) Token(ctx context.Context) (*Token, error) {
	s.mu.Lock()
	if !s.unsaved && s.tok.Valid(s.cfg.Now(), s.cfg.Skew) {
		t := s.tok
		s.mu.Unlock()
		return t, nil
	}
	f := s.startLocked(ctx, false, nil)
	s.mu.Unlock()
	return s.wait(ctx, f)
}

// ForceRefresh implements [Refresher].
func (s *RefreshingSource) ForceRefresh(ctx context.Context, stale *Token) (*Token, error) {
	s.mu.Lock()
	if stale != nil && !s.unsaved && s.tok != nil && s.tok.AccessToken != stale.AccessToken &&
		s.tok.Valid(s.cfg.Now(), s.cfg.Skew) {
		t := s.tok
		s.mu.Unlock()
		return t, nil
	}
	f := s.startLocked(ctx, true, stale)
	s.mu.Unlock()
	return s.wait(ctx, f)
}

// startLocked joins the running flight or starts one. The refresh runs on
// its own goroutine, detached from ctx's cancellation but bounded by
// RefreshTimeout, so that a rotated token is always persisted.
func (s *RefreshingSource) startLocked(ctx context.Context, force bool, stale *Token) *flight {
	if s.flight != nil {
		return s.flight
	}
	f := &flight{done: make(chan struct{})}
	s.flight = f
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.RefreshTimeout)
	go func() {
		defer cancel()
		tok, err := s.run(rctx, force, stale)
		s.mu.Lock()
		f.tok, f.err = tok, err
		s.flight = nil
		s.mu.Unlock()
		close(f.done)
	}()
	return f
}

func (s *RefreshingSource) wait(ctx context.Context, f *flight) (*Token, error) {
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run is one flight: finish a pending save, or lock, load, refresh if still
// needed, persist. Only one run executes at a time.
func (s *RefreshingSource) run(ctx context.Context, force bool, stale *Token) (*Token, error) {
	s.mu.Lock()
	cur, unsaved := s.tok, s.unsaved
	s.mu.Unlock()
	now := s.cfg.Now()

	store := s.cfg.Store
	if unsaved && !force && cur.Valid(now, s.cfg.Skew) {
		// A previous refresh could not be saved: save it now.
		if err := store.Save(cur); err != nil {
			return nil, wrap(ErrPersist, err)
		}
		s.set(cur, false)
		return cur, nil
	}

	base := cur
	if store != nil {
		unlock, err := store.Lock(ctx)
		if err != nil {
			return nil, errorf("locking the token store: %w", err)
		}
		defer unlock()
	}
	if store != nil && !unsaved {
		stored, err := store.Load()
		if err != nil {
			return nil, errorf("loading the stored token: %w", err)
		}
		if stored != nil {
			// A forced refresh adopts a stored token only if it is not the
			// one the server just rejected.
			fresh := !force || (stale != nil && stored.AccessToken != stale.AccessToken)
			if fresh && stored.Valid(s.cfg.Now(), s.cfg.Skew) {
				// Another process (or an earlier run) already refreshed.
				s.set(stored, false)
				return stored, nil
			}
			base = stored
		}
	}
	if base == nil || base.RefreshToken == "" {
		return nil, wrap(s.cfg.NoTokenErr, errorf("token expired and there is no refresh token"))
	}
	if s.cfg.Refresh == nil {
		return nil, errorf("token source has no Refresh function")
	}
	tok, err := s.cfg.Refresh(ctx, base.RefreshToken)
	if err != nil {
		return nil, err
	}
	if store != nil {
		if err := store.Save(tok); err != nil {
			s.set(tok, true)
			return nil, wrap(ErrPersist, err)
		}
	}
	s.set(tok, false)
	return tok, nil
}

func (s *RefreshingSource) set(t *Token, unsaved bool) {
	s.mu.Lock()
	s.tok, s.unsaved = t, unsaved
	s.mu.Unlock()
}
