package keystore_test

import (
	"fmt"
	"time"

	"github.com/paragon-cli/paragon/keystore"
)

// Tokens are saved with their expiry, so that the next process can use the
// access token without a refresh.
func ExampleSaveTokens() {
	s := keystore.NewMemory() // keystore.Open("auto", keystore.Options{}) in a program
	exp := time.Date(2026, 11, 26, 19, 0, 0, 0, time.UTC)
	err := keystore.SaveTokens(s, "work", keystore.UserTokens,
		keystore.Tokens{AccessToken: "at-1", Expiry: exp, RefreshToken: "rt-1"})
	if err != nil {
		panic(err)
	}
	raw, _ := s.Get("work", keystore.ItemUserAccessToken)
	fmt.Println(raw)
	t, _ := keystore.LoadTokens(s, "work", keystore.UserTokens)
	fmt.Println(t.RefreshToken, t.Expiry)
	// Output:
	// {"access_token":"at-1","expiry":"2026-11-26T19:00:00Z"}
	// rt-1 2026-11-26 19:00:00 +0000 UTC
}

// The environment wins over the store, and Lookup says where a secret came
// from (what `paragon auth status` shows).
func ExampleWithEnv() {
	s := keystore.NewMemory()
	s.Set("work", keystore.ItemAPIKey, "stored-key")
	s.Set("work", keystore.ItemUserRefreshToken, "rt-1")
	env := map[string]string{keystore.EnvAPIKey: "key-from-env"}
	l := keystore.WithEnv(s, func(k string) string { return env[k] })

	for _, item := range []string{keystore.ItemAPIKey, keystore.ItemUserRefreshToken} {
		_, source, _ := l.Lookup("work", item)
		fmt.Printf("%s: %s\n", item, source)
	}
	// Output:
	// api-key: environment
	// user-refresh-token: memory
}

// A Notice is the warning to print when "auto" had to fall back to the file.
func ExampleNotice() {
	n := keystore.Notice{Fallback: true, Reason: "no D-Bus session bus", Path: "/home/ann/.config/paragon/secrets.json"}
	fmt.Println("warning:", n)
	// Output:
	// warning: no usable OS keyring (no D-Bus session bus); secrets are stored in /home/ann/.config/paragon/secrets.json (mode 0600)
}
