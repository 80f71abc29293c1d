//go:build (dragonfly && cgo) || (freebsd && cgo) || linux || netbsd || openbsd

package keystore

import (
	"errors"
	"fmt"
	"sync"

	"github.com/godbus/dbus/v5"
	"github.com/zalando/go-keyring"
	ss "github.com/zalando/go-keyring/secret_service"

	"github.com/paragon-cli/paragon/keystore/ssfast"
)

// Where go-keyring uses the Secret Service, the reads a command needs (an
// API call needs the API key, the access token and the refresh token) go
// through getMany and probeAndRead: go-keyring's Get costs seven D-Bus calls
// per item (collection lookup, unlock, search, open session, unlock, get,
// close), each waiting for the answer to the one before. These send every
// call that does not need an earlier answer at once, so that a command's
// reads cost two waits on the keyring daemon. On Linux they go over a
// private connection that also pipelines the bus's authentication and
// Hello (package ssfast); elsewhere, and where that connection
// cannot be made, they share one session per process on go-keyring's
// shared connection. Writes and single reads stay
// with go-keyring, which stores an item as {service, username} in the login
// collection; the searches here find exactly those items.

const (
	ssName         = ssfast.Name
	ssPath         = ssfast.Path
	ssService      = ssfast.Service
	ssDefaultAlias = ssfast.DefaultAlias
)

// ssSession is the process's Secret Service session, opened on first use.
var ssSession struct {
	mu   sync.Mutex
	path dbus.ObjectPath
}

// probe asks the Secret Service to unlock its default collection: one call
// when it is unlocked; a locked one shows a prompt and waits for it (the
// caller's timeout ends the wait when there is no prompter). It is the
// check go-keyring makes before each read, made once.
func (goKeyring) probe() error {
	svc, err := ss.NewSecretService()
	if err != nil {
		return err
	}
	return svc.Unlock(ssDefaultAlias)
}

// probeAndRead is probe and getMany in one round: the unlock, the session
// and the searches are sent together.
func (g goKeyring) probeAndRead(service string, users []string) (map[string]string, error) {
	switch vals, err := g.fastRead(service, users, true); {
	case errors.Is(err, ssfast.ErrLocked):
		// go-keyring's unlock shows the prompt and waits for it.
		if err := g.probe(); err != nil {
			return nil, err
		}
		return g.getMany(service, users)
	case !errors.Is(err, ssfast.ErrUnavailable):
		return vals, err
	}
	conn, err := dbus.SessionBus()
	if err != nil {
		return nil, err
	}
	unlock := conn.Object(ssName, ssPath).Go(ssService+".Unlock", 0, nil, []dbus.ObjectPath{ssDefaultAlias})
	r := startRead(conn, service, users)
	var unlocked []dbus.ObjectPath
	var prompt dbus.ObjectPath
	err = (<-unlock.Done).Store(&unlocked, &prompt)
	// Let other reads use the session before a prompt can keep us waiting.
	if rerr := r.release(); err == nil {
		err = rerr
	}
	if err == nil && (prompt != "/" || len(unlocked) != 1) {
		// Locked: go-keyring's unlock shows the prompt and waits for it.
		err = g.probe()
	}
	if err != nil {
		return nil, err
	}
	return r.finish(g)
}

// getMany reads users of service in one round.
func (g goKeyring) getMany(service string, users []string) (map[string]string, error) {
	if vals, err := g.fastRead(service, users, false); !errors.Is(err, ssfast.ErrUnavailable) {
		return vals, err
	}
	conn, err := dbus.SessionBus()
	if err != nil {
		return nil, err
	}
	return startRead(conn, service, users).finish(g)
}

// ssRead is a read in flight: the session (opened now if the process has
// none yet) and one SearchItems per user, sent without waiting.
type ssRead struct {
	obj      dbus.BusObject
	service  string
	users    []string
	session  dbus.ObjectPath
	open     *dbus.Call
	searches []*dbus.Call
}

func startRead(conn *dbus.Conn, service string, users []string) *ssRead {
	r := &ssRead{obj: conn.Object(ssName, ssPath), service: service, users: users}
	ssSession.mu.Lock()
	r.session = ssSession.path
	if r.session == "" {
		// Held until finish stores the new session, so that concurrent
		// reads do not open one each.
		r.open = r.obj.Go(ssService+".OpenSession", 0, nil, "plain", dbus.MakeVariant(""))
	} else {
		ssSession.mu.Unlock()
	}
	for _, u := range users {
		r.searches = append(r.searches, r.obj.Go(ssService+".SearchItems", 0, nil, map[string]string{"service": service, "username": u}))
	}
	return r
}

// release waits for the session this read opens, if any, and lets other
// reads use it.
func (r *ssRead) release() error {
	if r.open == nil {
		return nil
	}
	var output dbus.Variant
	err := (<-r.open.Done).Store(&output, &r.session)
	if err != nil {
		r.session = ""
	}
	ssSession.path = r.session
	ssSession.mu.Unlock()
	r.open = nil
	if err != nil {
		return fmt.Errorf("opening a Secret Service session: %w", err)
	}
	return nil
}

// finish waits for the session and the searches, then fetches every found
// secret with one GetSecrets. An item that only exists locked is read
// through go-keyring, which unlocks it (prompting).
func (r *ssRead) finish(g goKeyring) (map[string]string, error) {
	if err := r.release(); err != nil {
		return nil, err
	}
	vals := make(map[string]string, len(r.users))
	var paths []dbus.ObjectPath
	user := map[dbus.ObjectPath]string{}
	var firstErr error
	for i, c := range r.searches {
		var unlocked, locked []dbus.ObjectPath
		err := (<-c.Done).Store(&unlocked, &locked)
		switch {
		case err != nil:
		case len(unlocked) > 0:
			paths = append(paths, unlocked[0])
			user[unlocked[0]] = r.users[i]
		case len(locked) > 0:
			var v string
			if v, err = g.Get(r.service, r.users[i]); err == nil {
				vals[r.users[i]] = v
			} else if errors.Is(err, keyring.ErrNotFound) {
				err = nil
			}
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if len(paths) == 0 {
		return vals, nil
	}
	var secrets map[dbus.ObjectPath]ss.Secret
	if err := r.obj.Call(ssService+".GetSecrets", 0, paths, r.session).Store(&secrets); err != nil {
		// The session may be gone (a restarted daemon): open a new one next time.
		ssSession.mu.Lock()
		if ssSession.path == r.session {
			ssSession.path = ""
		}
		ssSession.mu.Unlock()
		return nil, err
	}
	return vals, secretValues(vals, secrets, user)
}

// secretValues copies into vals the value of each found item (path → user)
// from what GetSecrets returned.
func secretValues(vals map[string]string, secrets map[dbus.ObjectPath]ss.Secret, user map[dbus.ObjectPath]string) error {
	for p, u := range user {
		sec, ok := secrets[p]
		if !ok {
			return fmt.Errorf("the Secret Service returned no secret for %s", u)
		}
		vals[u] = string(sec.Value)
	}
	return nil
}

// fastRead reads users of service with ssfast (a private connection, two
// waits); items that exist only locked are read through go-keyring, which
// unlocks them (prompting).
func (g goKeyring) fastRead(service string, users []string, unlock bool) (map[string]string, error) {
	vals, locked, err := ssfast.Read(service, users, unlock)
	if err != nil {
		return nil, err
	}
	for _, u := range locked {
		v, err := g.Get(service, u)
		if err == nil {
			vals[u] = v
		} else if !errors.Is(err, keyring.ErrNotFound) {
			return nil, err
		}
	}
	return vals, nil
}
