// Package mockkeyring tests keystore's keyring wrapper through go-keyring's
// own MockInit. It is a separate test binary because MockInit replaces
// go-keyring's provider for the whole process, which would hide the real
// Secret Service from keystore's own tests.
package mockkeyring

import (
	"errors"
	"strings"
	"testing"

	"github.com/paragon-cli/paragon/keystore"
	"github.com/zalando/go-keyring"
)

func TestKeyringWrapperOverMock(t *testing.T) {
	keyring.MockInit()
	k := keystore.NewKeyring(0)
	if _, err := k.Get("p", keystore.ItemAPIKey); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("absent: err = %v, want keystore.ErrNotFound", err)
	}
	if err := k.Set("p", keystore.ItemAPIKey, "k1"); err != nil {
		t.Fatal(err)
	}
	// Stored where the real keyring would have it: service paragon:p, user api-key.
	if v, err := keyring.Get("paragon:p", keystore.ItemAPIKey); err != nil || v != "k1" {
		t.Errorf("go-keyring sees %q, %v", v, err)
	}
	if v, err := k.Get("p", keystore.ItemAPIKey); err != nil || v != "k1" {
		t.Errorf("Get = %q, %v", v, err)
	}
	if err := k.Delete("p", keystore.ItemAPIKey); err != nil {
		t.Fatal(err)
	}
	if err := k.Delete("p", keystore.ItemAPIKey); err != nil {
		t.Errorf("deleting an absent item (go-keyring says ErrNotFound): %v", err)
	}
}

func TestKeyringWrapperErrorsOverMock(t *testing.T) {
	keyring.MockInitWithError(keyring.ErrSetDataTooBig)
	k := keystore.NewKeyring(0)
	if err := k.Set("p", keystore.ItemAPIKey, "v"); !errors.Is(err, keystore.ErrTooBig) {
		t.Errorf("ErrSetDataTooBig: %v", err)
	}
	boom := errors.New("dbus: connection closed")
	keyring.MockInitWithError(boom)
	_, err := k.Get("p", keystore.ItemAPIKey)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), keystore.ItemAPIKey) {
		t.Errorf("other error: %v", err)
	}
	keyring.MockInit()
}
