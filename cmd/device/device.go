// Package device implements `paragon device register|status|forget`: trusting
// this machine as a device of the profile's server, which `paragon login`
// then uses to log users in.
package device

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/client"
	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/keystore"
)

// NewCmdDevice returns the device command group.
func NewCmdDevice(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "device COMMAND",
		Short: "Register this machine as a trusted device",
		Long: `Before users can log in, the API key usually requires a trusted device: this
machine registers with its own Ed25519 key, an administrator approves it,
and its device token then vouches for every login. The key and tokens live
in the keystore; nothing needs to be copied by hand.`,
		Example: `  $ paragon device register --server http://127.0.0.1:7300 --api-key-stdin <<< paragon-dev-key
  $ paragon device status
  $ paragon device forget`,
	}
	cmd.AddCommand(NewCmdRegister(f, nil), NewCmdStatus(f, nil), NewCmdForget(f, nil))
	return cmd
}

// pending is a registration waiting for approval, kept in the keystore
// under cmdutil.ItemDeviceCode so that a later command can finish it.
type pending struct {
	DeviceCode string    `json:"device_code"`
	Expiry     time.Time `json:"expiry,omitzero"`
	// Next is the earliest time the server wants to be asked again (the
	// last poll plus its interval), so that a status question can say it.
	Next time.Time `json:"next,omitzero"`
}

// loadPending returns the stored registration, or nil when there is none or
// it expired.
func loadPending(s *cmdutil.Session, now time.Time) (*pending, error) {
	v, err := s.Store.Store.Get(s.Name, cmdutil.ItemDeviceCode)
	if errors.Is(err, keystore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, s.Explain(err)
	}
	var p pending
	if json.Unmarshal([]byte(v), &p) != nil || p.DeviceCode == "" {
		return nil, nil
	}
	if !p.Expiry.IsZero() && !now.Before(p.Expiry) {
		return nil, nil
	}
	return &p, nil
}

func savePending(s *cmdutil.Session, p pending) error {
	b, _ := json.Marshal(p)
	if err := s.Store.Store.Set(s.Name, cmdutil.ItemDeviceCode, string(b)); err != nil {
		return s.Explain(err)
	}
	return nil
}

// AdminHint says who approves a device and where.
func AdminHint(s *cmdutil.Session, id string) string {
	return fmt.Sprintf("An administrator of %s must approve device %s (on a paragon reference server: at %s/admin)", s.Profile.Server, id, s.Profile.OAuthBase())
}

// StillPendingError is Finish's answer without wait when nobody has decided
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

// maxQuickPolls bounds the polls of a Finish without wait.
const maxQuickPolls = 3

// ErrStillPending is returned by Finish with wait=false when the
// administrator has not decided yet (as a *StillPendingError).
var ErrStillPending = errors.New("device not approved yet")

// Finish exchanges a stored pending registration for a device token and
// stores it. With wait it polls until the administrator decides (progress
// reports each poll); without, it asks the server once and answers at once:
// a *StillPendingError if nobody has decided, or if the server wants more
// time between polls (slow_down: another command asked it moments ago). It
// returns (nil, nil) when there is no pending registration.
func Finish(ctx context.Context, s *cmdutil.Session, now time.Time, wait bool, interval time.Duration, progress func(client.PollEvent)) (*client.Token, error) {
	p, err := loadPending(s, now)
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
	next := interval
	if next <= 0 {
		next = client.DefaultPollInterval
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tok, err := s.Client.PollDeviceToken(pctx, client.PollRequest{
		ClientID: id, DeviceCode: p.DeviceCode, Key: key, Interval: interval,
		Progress: func(ev client.PollEvent) {
			// Without wait, stop at the first "not yet": pending, or a
			// slow_down. Transient failures get a couple more polls.
			if !wait && (ev.Status != "retry" || ev.Attempt >= maxQuickPolls) {
				stillPending = true
				if ev.Interval > next {
					next = ev.Interval
				}
				cancel()
				return
			}
			if progress != nil {
				progress(ev)
			}
		},
	})
	if err != nil {
		if stillPending && ctx.Err() == nil {
			p.Next = now.Add(next)
			if err := savePending(s, *p); err != nil {
				return nil, err
			}
			return nil, &StillPendingError{Next: p.Next}
		}
		if errors.Is(err, client.ErrAccessDenied) || errors.Is(err, client.ErrDeviceCodeExpired) || errors.Is(err, client.ErrDeviceCodeInvalid) {
			_ = s.DeleteItems(cmdutil.ItemDeviceCode)
		}
		return nil, err
	}
	if err := s.SaveTokens(keystore.DeviceTokens, tok); err != nil {
		return nil, err
	}
	if err := s.DeleteItems(cmdutil.ItemDeviceCode); err != nil {
		return nil, err
	}
	return tok, nil
}

// stateJSON is `device status --json` and `device register --json`: the
// device in the shape `paragon status --json` has it.
type stateJSON struct {
	Profile string             `json:"profile"`
	Device  cmdutil.DeviceJSON `json:"device"`
	Store   string             `json:"store"`
}

func printDone(ios *iostreams.IOStreams, jsonOut bool, st stateJSON) error {
	if jsonOut {
		return cmdutil.WriteJSON(ios, st)
	}
	if st.Device.ID != "" {
		fmt.Fprintln(ios.Out, st.Device.ID)
	}
	return nil
}
