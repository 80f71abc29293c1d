// Package trust is this machine's trust as a device of a profile's server,
// in one place for `paragon device` and `paragon login`: the registration
// that waits for an administrator (kept in the keystore under
// ItemDeviceCode), finishing it ([Finish]), the device token source a login
// needs ([Source], [ForLogin]) and re-registering a device whose token died
// ([ReRegister]).
package trust

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/paragon-cli/paragon/client"
	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/keystore"
)

// ItemDeviceCode is the keystore item holding a registration that waits for
// approval: JSON {"device_code", "expiry", "next"}, so that a later command
// (login, device register, device status) can finish it.
const ItemDeviceCode = "device-code"

// Items are the keystore items that make up a device: what `device forget`
// and `logout --all` delete.
var Items = []string{keystore.ItemDeviceAccessToken, keystore.ItemDeviceRefreshToken, ItemDeviceCode, keystore.ItemDevicePrivateKey, keystore.ItemDeviceID}

// Pending is a registration waiting for approval.
type Pending struct {
	DeviceCode string    `json:"device_code"`
	Expiry     time.Time `json:"expiry,omitzero"`
	// Next is the earliest time the server wants to be asked again (the
	// last poll plus its interval), so that a status question can say it.
	Next time.Time `json:"next,omitzero"`
}

// LoadPending returns the stored registration, or nil when there is none or
// it expired.
func LoadPending(s *cmdutil.Session, now time.Time) (*Pending, error) {
	v, err := s.Store.Store.Get(s.Name, ItemDeviceCode)
	if errors.Is(err, keystore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, s.Explain(err)
	}
	var p Pending
	if json.Unmarshal([]byte(v), &p) != nil || p.DeviceCode == "" {
		return nil, nil
	}
	if !p.Expiry.IsZero() && !now.Before(p.Expiry) {
		return nil, nil
	}
	return &p, nil
}

// SavePending stores a registration waiting for approval.
func SavePending(s *cmdutil.Session, p Pending) error {
	b, _ := json.Marshal(p)
	if err := s.Store.Store.Set(s.Name, ItemDeviceCode, string(b)); err != nil {
		return s.Explain(err)
	}
	return nil
}

// AdminHint says who approves a device and where.
func AdminHint(s *cmdutil.Session, id string) string {
	return fmt.Sprintf("An administrator of %s must approve device %s (on a paragon reference server: at %s/admin)", s.Profile.Server, id, s.Profile.OAuthBase())
}

// ErrStillPending is returned by Finish without Wait when the administrator
// has not decided yet (as a *StillPendingError).
var ErrStillPending = errors.New("device not approved yet")

// StillPendingError is Finish's answer without Wait when nobody has decided
// yet (errors.Is(err, ErrStillPending) holds): Next is when the server may
// be asked again.
type StillPendingError struct{ Next time.Time }

func (e *StillPendingError) Error() string        { return ErrStillPending.Error() }
func (e *StillPendingError) Is(target error) bool { return target == ErrStillPending }

// PendingError is the error of a device still waiting for approval; next,
// when known, is when paragon may ask the server again.
func PendingError(s *cmdutil.Session, id string, next time.Time) error {
	msg := fmt.Sprintf("device %s is waiting for approval: an administrator of %s must approve it (on a paragon reference server: at %s/admin)", id, s.Profile.Server, s.Profile.OAuthBase())
	if !next.IsZero() {
		msg += fmt.Sprintf("; the next paragon command asks the server again, from %s", next.Local().Format("15:04:05"))
	}
	return &cmdutil.AuthError{Err: errors.New(msg), Hint: s.Cmd("login"), When: "once it is approved"}
}

// maxQuickPolls bounds the polls of a Finish without Wait.
const maxQuickPolls = 3

// FinishOptions says how Finish asks the server.
type FinishOptions struct {
	// Now is the current time (the stored registration's expiry and the
	// time of the next question are measured from it).
	Now time.Time
	// Wait polls until the administrator decides; without it Finish asks
	// the server once and answers at once.
	Wait bool
	// Interval between polls; zero means client.DefaultPollInterval.
	Interval time.Duration
	// Progress, if set, is told of each poll while waiting.
	Progress func(client.PollEvent)
}

// Finish exchanges a stored pending registration for a device token and
// stores it. With Wait it polls until the administrator decides; without,
// it asks the server once and answers at once: a *StillPendingError if
// nobody has decided, or if the server wants more time between polls
// (slow_down: another command asked it moments ago). It returns (nil, nil)
// when there is no pending registration.
func Finish(ctx context.Context, s *cmdutil.Session, opts FinishOptions) (*client.Token, error) {
	p, err := LoadPending(s, opts.Now)
	if err != nil || p == nil {
		return nil, err
	}
	id, err := s.DeviceID()
	if err != nil {
		return nil, err
	}
	key, err := s.DeviceKey()
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, nil
	}
	var stillPending bool
	next := opts.Interval
	if next <= 0 {
		next = client.DefaultPollInterval
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tok, err := s.Client.PollDeviceToken(pctx, client.PollRequest{
		ClientID: id, DeviceCode: p.DeviceCode, Key: key, Interval: opts.Interval,
		Progress: func(ev client.PollEvent) {
			// Without Wait, stop at the first "not yet": pending, or a
			// slow_down. Transient failures get a couple more polls.
			if !opts.Wait && (ev.Status != "retry" || ev.Attempt >= maxQuickPolls) {
				stillPending = true
				if ev.Interval > next {
					next = ev.Interval
				}
				cancel()
				return
			}
			if opts.Progress != nil {
				opts.Progress(ev)
			}
		},
	})
	if err != nil {
		if stillPending && ctx.Err() == nil {
			p.Next = opts.Now.Add(next)
			if err := SavePending(s, *p); err != nil {
				return nil, err
			}
			return nil, &StillPendingError{Next: p.Next}
		}
		if errors.Is(err, client.ErrAccessDenied) || errors.Is(err, client.ErrDeviceCodeExpired) || errors.Is(err, client.ErrDeviceCodeInvalid) {
			_ = s.DeleteItems(ItemDeviceCode)
		}
		return nil, err
	}
	if err := s.SaveTokens(keystore.DeviceTokens, tok); err != nil {
		return nil, err
	}
	if err := s.DeleteItems(ItemDeviceCode); err != nil {
		return nil, err
	}
	return tok, nil
}

// Source returns the refreshing source of the stored device token. It fails
// with an AuthError when no trusted device is stored.
func Source(s *cmdutil.Session) (*client.RefreshingSource, error) {
	id, err := s.DeviceID()
	if err != nil {
		return nil, err
	}
	tok, err := s.StoredDeviceToken()
	if err != nil {
		return nil, err
	}
	if id == "" || tok == nil {
		if id != "" {
			return nil, &cmdutil.AuthError{Err: fmt.Errorf("device %s of profile %q is not approved yet", id, s.Name), Hint: s.Cmd("device register")}
		}
		return nil, &cmdutil.AuthError{Err: fmt.Errorf("no device registered for profile %q", s.Name), Hint: s.Cmd("device register")}
	}
	key, err := s.DeviceKey()
	if err != nil {
		return nil, err
	}
	return s.Client.Device(id, key, s.SourceConfig(keystore.DeviceTokens, tok)).TokenSource(), nil
}

// ForLogin returns the device token source for a login, finishing a
// registration that was approved since `device register --no-wait`.
func ForLogin(ctx context.Context, s *cmdutil.Session, now time.Time) (*client.RefreshingSource, error) {
	src, err := Source(s)
	if err == nil {
		return src, nil
	}
	id, _ := s.DeviceID()
	if id == "" {
		return nil, &cmdutil.AuthError{Err: fmt.Errorf("no trusted device for profile %q: register this machine first (or use --untrusted if the API key allows it)", s.Name), Hint: s.Cmd("device register")}
	}
	_, ferr := Finish(ctx, s, FinishOptions{Now: now})
	var still *StillPendingError
	switch {
	case errors.As(ferr, &still):
		return nil, PendingError(s, id, still.Next)
	case ferr != nil:
		return nil, s.Explain(ferr)
	}
	return Source(s)
}

// ReRegister registers the stored device again, signed with its key, and
// returns a source with the new device token when the server trusts it at
// once (it says so on errOut). It returns (nil, nil) when no device key is
// stored.
func ReRegister(ctx context.Context, s *cmdutil.Session, errOut io.Writer) (*client.RefreshingSource, error) {
	id, err := s.DeviceID()
	if err != nil || id == "" {
		return nil, err
	}
	key, err := s.DeviceKey()
	if err != nil || key == nil {
		return nil, err
	}
	reg, err := s.Client.Register(ctx, client.RegisterRequest{ClientID: id, ClientType: s.Profile.DeviceType, Description: cmdutil.DefaultDeviceDescription(), Key: key})
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reg.Progress = func(client.PollEvent) { cancel() } // one poll: trusted at once, or not
	dev, err := reg.Wait(dctx)
	if err != nil {
		return nil, err
	}
	if err := s.SaveTokens(keystore.DeviceTokens, dev.TokenSource().Current()); err != nil {
		return nil, err
	}
	fmt.Fprintf(errOut, "Renewed the trust of device %s (its token had expired).\n", id)
	return Source(s)
}
