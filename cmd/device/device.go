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
		Use:   "device <command>",
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

// PendingError is the error of a device still waiting for approval.
func PendingError(s *cmdutil.Session, id string) error {
	return &cmdutil.AuthError{
		Err:  fmt.Errorf("device %s is waiting for approval: an administrator of %s must approve it (on a paragon reference server: at %s/admin)", id, s.Profile.Server, s.Profile.OAuthBase()),
		Hint: s.Cmd("login"), When: "once it is approved",
	}
}

// maxQuickPolls bounds the polls of a Finish without wait.
const maxQuickPolls = 3

// ErrStillPending is returned by Finish with wait=false when the
// administrator has not decided yet.
var ErrStillPending = errors.New("device not approved yet")

// Finish exchanges a stored pending registration for a device token and
// stores it. With wait it polls until the administrator decides (progress
// reports each poll); without, it polls once and returns ErrStillPending if
// nobody has decided. It returns (nil, nil) when there is no pending
// registration.
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
	poll := func() (tok *client.Token, stillPending, slowedDown bool, err error) {
		pctx, cancel := context.WithCancel(ctx)
		defer cancel()
		tok, err = s.Client.PollDeviceToken(pctx, client.PollRequest{
			ClientID: id, DeviceCode: p.DeviceCode, Key: key, Interval: interval,
			Progress: func(ev client.PollEvent) {
				// Without wait, stop at the first "not yet": pending, or a
				// slow_down. Transient failures get a couple more polls.
				if !wait && (ev.Status != "retry" || ev.Attempt >= maxQuickPolls) {
					stillPending, slowedDown = true, ev.Status == "slow_down"
					cancel()
					return
				}
				if progress != nil {
					progress(ev)
				}
			},
		})
		return tok, stillPending, slowedDown, err
	}
	tok, stillPending, slowedDown, err := poll()
	if slowedDown && ctx.Err() == nil {
		// Another command polled under 5 s ago, so the server said nothing
		// about approval (it may have been given meanwhile): wait one
		// interval and ask once more rather than report "not approved".
		if interval <= 0 {
			interval = client.DefaultPollInterval
		}
		ios := s.IOStreams()
		ios.StartProgress(fmt.Sprintf("Checking again in %s whether device %s is approved (the server wants %s between polls)", interval, id, interval))
		serr := s.Sleep(ctx, interval)
		ios.StopProgress()
		if serr != nil {
			return nil, serr
		}
		tok, stillPending, _, err = poll()
	}
	if err != nil {
		if stillPending && ctx.Err() == nil {
			return nil, ErrStillPending
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

// stateJSON is `device status --json` and `device register --json`.
type stateJSON struct {
	Profile     string     `json:"profile"`
	DeviceID    string     `json:"device_id,omitempty"`
	Status      string     `json:"status"` // none, pending, trusted
	ApproveAt   string     `json:"approve_at,omitempty"`
	TokenExpiry *time.Time `json:"token_expiry,omitempty"`
	Refresh     bool       `json:"refresh_token_stored"`
	Store       string     `json:"store"`
}

func printDone(ios *iostreams.IOStreams, jsonOut bool, st stateJSON) error {
	if jsonOut {
		return cmdutil.WriteJSON(ios, st)
	}
	if st.DeviceID != "" {
		fmt.Fprintln(ios.Out, st.DeviceID)
	}
	return nil
}
