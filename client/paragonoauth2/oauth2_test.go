package paragonoauth2

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/paragon-cli/paragon/client"
)

func TestTokensConvertBothWaysAndShareTheJSONForm(t *testing.T) {
	exp := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	p := &client.Token{AccessToken: "A", RefreshToken: "R", TokenType: "bearer", Expiry: exp}
	o := ToOAuth2(p)
	if o.AccessToken != "A" || o.RefreshToken != "R" || o.TokenType != "Bearer" || !o.Expiry.Equal(exp) {
		t.Errorf("to oauth2: %+v", o)
	}
	back := FromOAuth2Token(o)
	if back.AccessToken != "A" || back.RefreshToken != "R" || back.Type() != "Bearer" || !back.Expiry.Equal(exp) {
		t.Errorf("back: %v", back)
	}
	if ToOAuth2(nil) != nil || FromOAuth2Token(nil) != nil {
		t.Error("nil did not convert to nil")
	}
	b, _ := json.Marshal(p)
	var viaJSON oauth2.Token
	if err := json.Unmarshal(b, &viaJSON); err != nil || viaJSON.AccessToken != "A" || viaJSON.RefreshToken != "R" || !viaJSON.Expiry.Equal(exp) {
		t.Errorf("paragon JSON %s read by oauth2: %+v %v", b, viaJSON, err)
	}
}

type ctxSource struct{ got context.Context }

func (c *ctxSource) Token(ctx context.Context) (*client.Token, error) {
	c.got = ctx
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &client.Token{AccessToken: "A"}, nil
}

func TestAdaptersPassContextAndErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	src := &ctxSource{}
	if _, err := TokenSource(ctx, src).Token(); err != nil || src.got != ctx {
		t.Fatalf("err %v, context passed %v", err, src.got == ctx)
	}
	cancel()
	if _, err := TokenSource(ctx, src).Token(); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := FromOAuth2(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "A"})).Token(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context asked the oauth2 source: %v", err)
	}
	tok, err := FromOAuth2(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "A"})).Token(context.Background())
	if err != nil || tok.AccessToken != "A" {
		t.Errorf("%v %v", tok, err)
	}
}
