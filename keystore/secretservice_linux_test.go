package keystore

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/paragon-cli/paragon/keystore/ssfast"
)

func init() {
	// A fresh process opening the keyring with a prefetch, as `paragon
	// api` does; it prints what it read.
	children["prefetch-read"] = func(t *testing.T) {
		p := os.Getenv("PREFETCH_PROFILE")
		items := []string{ItemAPIKey, ItemUserAccessToken, ItemUserRefreshToken}
		s, _, err := Open(ChoiceKeyring, Options{Dir: t.TempDir(), Prefetch: &Prefetch{Profile: p, Items: items}})
		if err != nil {
			t.Fatal(err)
		}
		vals, err := GetItems(s, p, items...)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("read api-key=%s refresh=%s\n", vals[ItemAPIKey], vals[ItemUserRefreshToken])
	}
}

// turnProxy relays unix-socket connections to the real session bus and
// counts turns: the client sending after the bus has answered (its first
// sending is turn 1). Each turn is one wait of the client on other
// processes.
type turnProxy struct {
	mu    sync.Mutex
	turns int
}

func (tp *turnProxy) relay(client net.Conn, bus string) {
	defer client.Close()
	up, err := net.Dial("unix", bus)
	if err != nil {
		return
	}
	defer up.Close()
	answered := true // the first sending counts
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, err := up.Read(buf)
			if n > 0 {
				mu.Lock()
				answered = true
				mu.Unlock()
				client.Write(buf[:n])
			}
			if err != nil {
				client.Close()
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			mu.Lock()
			if answered {
				tp.mu.Lock()
				tp.turns++
				tp.mu.Unlock()
				answered = false
			}
			mu.Unlock()
			up.Write(buf[:n])
		}
		if err != nil {
			break
		}
	}
	up.(*net.UnixConn).CloseWrite()
	<-done
}

// A fresh process reads the items an API call needs with two waits on the
// bus: the authentication, Hello, the probe's Unlock, the session and the
// searches go out together, then GetSecrets. (godbus's own connection
// waits for each authentication line and for Hello first: seven.)
func TestKeyringSecretServiceReadTurns(t *testing.T) {
	k := secretService(t)
	p := testProfile(t, k)
	apiKey, rt := randomSecret(), randomSecret()
	if err := SetItems(k, p, []Entry{{ItemAPIKey, apiKey}, {ItemUserRefreshToken, rt}}); err != nil {
		t.Fatal(err)
	}
	bus, ok := ssfast.BusSocket(os.Getenv)
	if !ok {
		t.Skipf("the session bus address %q is not a unix socket", os.Getenv("DBUS_SESSION_BUS_ADDRESS"))
	}
	sock := filepath.Join(t.TempDir(), "bus")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tp := &turnProxy{}
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { tp.relay(c, bus) })
		}
	}()
	res := runChildren(childContext(t), t, "prefetch-read", 1, "DBUS_SESSION_BUS_ADDRESS=unix:path="+sock, "PREFETCH_PROFILE="+p)
	requireChildrenOK(t, res)
	ln.Close()
	wg.Wait()
	if want := fmt.Sprintf("read api-key=%s refresh=%s", apiKey, rt); !strings.Contains(res[0].output, want) {
		t.Fatalf("the child did not read the stored items:\n%s", res[0].output)
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if tp.turns == 0 || tp.turns > 2 {
		t.Errorf("opening the keyring and reading three items waited on the bus %d times, want 2", tp.turns)
	}
}
