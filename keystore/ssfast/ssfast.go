// Package ssfast reads items from the Secret Service over a private D-Bus
// connection with as few waits as the protocol allows. It depends on the
// standard library and godbus only, so that a package initialized early
// in a process can start a read (cmd/internal/early).
package ssfast

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
)

// The Secret Service's bus name, object and interface, and its default
// collection.
const (
	Name         = "org.freedesktop.secrets"
	Path         = dbus.ObjectPath("/org/freedesktop/secrets")
	Service      = "org.freedesktop.Secret.Service"
	DefaultAlias = dbus.ObjectPath("/org/freedesktop/secrets/aliases/default")
)

// secret is a Secret Service secret (go-keyring's secret_service.Secret).
type secret struct {
	Session     dbus.ObjectPath
	Parameters  []byte
	Value       []byte
	ContentType string `dbus:"content_type"`
}

// A read from the Secret Service goes over a private connection of
// its own, written so that the process waits on other processes as little
// as it can. godbus's connection waits for an answer to each of its four
// authentication lines and to Hello before it sends anything else: five
// round trips through the bus daemon before the first call, each a wake-up
// of another process that a busy machine serves late. Here the
// authentication (EXTERNAL, with the user id as its initial response, the
// way sd-bus and libdbus pipeline it), Hello and every call of the first
// round go out in one write; the only other write is GetSecrets, which
// needs the session and the items the first round returns. Two waits in
// all. The calls are the same as on godbus's connection (see
// keystore/secretservice_unix.go), and a bus address this cannot dial (not
// a unix:path or unix:abstract socket), another system than Linux or an
// authentication the bus refuses is ErrUnavailable: keystore then reads
// through godbus.

// fastReadDeadline bounds a private connection's life when the bus or the
// keyring daemon stops answering; the caller's own timeout (withTimeout)
// gives up on it long before.
const fastReadDeadline = 30 * time.Second

// ErrUnavailable means the private connection could not be used.
var ErrUnavailable = errors.New("no private Secret Service connection")

// ErrLocked means the default collection is locked: unlocking it shows a
// prompt, which go-keyring's Unlock handles.
var ErrLocked = errors.New("the default collection is locked")

// BusSocket returns the socket of the session bus, as godbus finds
// it (DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus), when it is a
// unix:path or unix:abstract address; abstract names start with "@".
func BusSocket(getenv func(string) string) (string, bool) {
	addr := getenv("DBUS_SESSION_BUS_ADDRESS")
	if addr == "" || addr == "autolaunch:" {
		rd := getenv("XDG_RUNTIME_DIR")
		if rd == "" {
			return "", false
		}
		p := filepath.Join(rd, "bus")
		if fi, err := os.Stat(p); err != nil || fi.Mode().Type() != fs.ModeSocket {
			return "", false
		}
		return p, true
	}
	first, _, _ := strings.Cut(addr, ";")
	kind, params, ok := strings.Cut(first, ":")
	if !ok || kind != "unix" {
		return "", false
	}
	var sock string
	for _, kv := range strings.Split(params, ",") {
		k, v, _ := strings.Cut(kv, "=")
		v, err := dbus.UnescapeBusAddressValue(v)
		if err != nil {
			return "", false
		}
		switch k {
		case "path":
			sock = v
		case "abstract":
			sock = "@" + v
		case "guid":
		default: // tmpdir, dir, runtime: only for servers, or not ours to guess
			return "", false
		}
	}
	return sock, sock != "" && sock != "@"
}

// busConn is a private session bus connection that sends batches of calls
// and reads their answers.
type busConn struct {
	conn   *net.UnixConn
	in     *bufio.Reader
	out    bytes.Buffer
	serial uint32
	authed bool
}

// dialBus connects to the session bus and queues the authentication and
// Hello; nothing is sent before the first flush.
func dialBus() (*busConn, error) {
	if runtime.GOOS != "linux" {
		// Elsewhere EXTERNAL needs credentials sent with the first byte.
		return nil, ErrUnavailable
	}
	sock, ok := BusSocket(os.Getenv)
	if !ok {
		return nil, ErrUnavailable
	}
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	conn.SetDeadline(time.Now().Add(fastReadDeadline))
	c := &busConn{conn: conn, in: bufio.NewReader(conn)}
	// The bus reads the user from the socket (SO_PEERCRED); the initial
	// response names the same user, as hex of its decimal id.
	c.out.WriteString("\x00AUTH EXTERNAL " + hex.EncodeToString([]byte(strconv.Itoa(os.Geteuid()))) + "\r\nBEGIN\r\n")
	c.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.Hello")
	return c, nil
}

// call queues a method call and returns its serial.
func (c *busConn) call(dest string, path dbus.ObjectPath, method string, args ...any) uint32 {
	i := strings.LastIndexByte(method, '.')
	msg := &dbus.Message{
		Type: dbus.TypeMethodCall,
		Headers: map[dbus.HeaderField]dbus.Variant{
			dbus.FieldDestination: dbus.MakeVariant(dest),
			dbus.FieldPath:        dbus.MakeVariant(path),
			dbus.FieldInterface:   dbus.MakeVariant(method[:i]),
			dbus.FieldMember:      dbus.MakeVariant(method[i+1:]),
		},
		Body: args,
	}
	if len(args) > 0 {
		msg.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(args...))
	}
	c.serial++
	start := c.out.Len()
	if err := msg.EncodeTo(&c.out, binary.LittleEndian); err != nil {
		panic(fmt.Sprintf("keystore: encoding %s: %v", method, err)) // our own fixed calls
	}
	// godbus sets a message's serial only on its own connections; the
	// serial is bytes 8 to 11 of the fixed header.
	binary.LittleEndian.PutUint32(c.out.Bytes()[start+8:], c.serial)
	return c.serial
}

// flush sends what is queued.
func (c *busConn) flush() error {
	_, err := c.conn.Write(c.out.Bytes())
	c.out.Reset()
	return err
}

// answers reads until every call of serials has its answer, skipping
// anything else the bus sends (the NameAcquired signal). The first read
// also takes the bus's answer to the authentication: anything but OK is
// ErrUnavailable.
func (c *busConn) answers(serials ...uint32) (map[uint32]*dbus.Message, error) {
	if !c.authed {
		line, err := c.in.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "OK ") {
			return nil, fmt.Errorf("%w: the bus answered the authentication with %q (%v)", ErrUnavailable, strings.TrimSpace(line), err)
		}
		c.authed = true
	}
	want := make(map[uint32]bool, len(serials))
	for _, s := range serials {
		want[s] = true
	}
	got := make(map[uint32]*dbus.Message, len(serials))
	for len(got) < len(want) {
		msg, err := dbus.DecodeMessage(c.in)
		if err != nil {
			return nil, err
		}
		if msg.Type != dbus.TypeMethodReply && msg.Type != dbus.TypeError {
			continue
		}
		var s uint32
		if v, ok := msg.Headers[dbus.FieldReplySerial]; ok {
			v.Store(&s)
		}
		if want[s] {
			got[s] = msg
		}
	}
	return got, nil
}

// store copies an answer's values into dest, or returns the D-Bus error it
// is.
func store(msg *dbus.Message, dest ...any) error {
	if msg.Type == dbus.TypeError {
		var name string
		if v, ok := msg.Headers[dbus.FieldErrorName]; ok {
			v.Store(&name)
		}
		return dbus.Error{Name: name, Body: msg.Body}
	}
	return dbus.Store(msg.Body, dest...)
}

// Read reads users of service (items stored as {service, username}, as
// go-keyring stores them): with unlock, the Unlock of the default
// collection goes out with the other calls of the first round. Users whose
// items exist only locked are returned in locked, for the caller to read
// with a client that can prompt; absent users are in neither. It returns
// ErrUnavailable when the connection could not be made and ErrLocked when
// Unlock wants a prompt.
func Read(service string, users []string, unlock bool) (vals map[string]string, locked []string, err error) {
	c, err := dialBus()
	if err != nil {
		return nil, nil, err
	}
	defer c.conn.Close()
	hello := c.serial
	serials := []uint32{hello}
	var unlockCall uint32
	if unlock {
		unlockCall = c.call(Name, Path, Service+".Unlock", []dbus.ObjectPath{DefaultAlias})
		serials = append(serials, unlockCall)
	}
	open := c.call(Name, Path, Service+".OpenSession", "plain", dbus.MakeVariant(""))
	serials = append(serials, open)
	searches := make([]uint32, len(users))
	for i, u := range users {
		searches[i] = c.call(Name, Path, Service+".SearchItems", map[string]string{"service": service, "username": u})
	}
	serials = append(serials, searches...)
	if err := c.flush(); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	ans, err := c.answers(serials...)
	if err != nil {
		return nil, nil, err
	}
	var name string
	if err := store(ans[hello], &name); err != nil {
		return nil, nil, fmt.Errorf("%w: Hello: %v", ErrUnavailable, err)
	}
	if unlock {
		var unlocked []dbus.ObjectPath
		var prompt dbus.ObjectPath
		if err := store(ans[unlockCall], &unlocked, &prompt); err != nil {
			return nil, nil, err
		}
		if prompt != "/" || len(unlocked) != 1 {
			return nil, nil, ErrLocked
		}
	}
	var output dbus.Variant
	var session dbus.ObjectPath
	if err := store(ans[open], &output, &session); err != nil {
		return nil, nil, fmt.Errorf("opening a Secret Service session: %w", err)
	}
	vals = make(map[string]string, len(users))
	var paths []dbus.ObjectPath
	user := map[dbus.ObjectPath]string{}
	for i, s := range searches {
		var unlocked, lockedPaths []dbus.ObjectPath
		if err := store(ans[s], &unlocked, &lockedPaths); err != nil {
			return nil, nil, err
		}
		switch {
		case len(unlocked) > 0:
			paths = append(paths, unlocked[0])
			user[unlocked[0]] = users[i]
		case len(lockedPaths) > 0:
			locked = append(locked, users[i])
		}
	}
	if len(paths) == 0 {
		return vals, locked, nil
	}
	get := c.call(Name, Path, Service+".GetSecrets", paths, session)
	if err := c.flush(); err != nil {
		return nil, nil, err
	}
	if ans, err = c.answers(get); err != nil {
		return nil, nil, err
	}
	var secrets map[dbus.ObjectPath]secret
	if err := store(ans[get], &secrets); err != nil {
		return nil, nil, err
	}
	for p, u := range user {
		sec, ok := secrets[p]
		if !ok {
			return nil, nil, fmt.Errorf("the Secret Service returned no secret for %s", u)
		}
		vals[u] = string(sec.Value)
	}
	return vals, locked, nil
}
