package client

import (
	"context"
	"testing"
	"time"
)

// BenchmarkAuthorizedCallCachedToken measures an authorized GET through a
// Session whose token is valid (no refresh), against httptest.
func BenchmarkAuthorizedCallCachedToken(b *testing.B) {
	_, ts := newMiniServer(b)
	c, err := New(Config{BaseURL: ts.URL, APIKey: testKey})
	if err != nil {
		b.Fatal(err)
	}
	src := c.UserTokenSource(SourceConfig{Token: &Token{AccessToken: "A0", RefreshToken: "R0", Expiry: time.Now().Add(time.Hour)}})
	s := c.Session(src)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Version(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRefresh measures one user-token refresh through the token source
// (refresh request, rotation, persist hook), against httptest.
func BenchmarkRefresh(b *testing.B) {
	m, ts := newMiniServer(b)
	c, err := New(Config{BaseURL: ts.URL, APIKey: testKey})
	if err != nil {
		b.Fatal(err)
	}
	var saved *Token
	src := c.UserTokenSource(SourceConfig{Token: &Token{AccessToken: "A0", RefreshToken: "R0", Expiry: time.Now().Add(time.Hour)},
		Store: funcStore{save: func(t *Token) error { saved = t; return nil }}})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.ForceRefresh(ctx, src.Current()); err != nil {
			b.Fatal(err)
		}
	}
	if r, _ := m.counts(); r != b.N || saved == nil {
		b.Fatalf("%d refreshes for %d iterations", r, b.N)
	}
}
