// Package paragonoauth2 adapts the token sources of package client to
// golang.org/x/oauth2 and back: a paragon login's refreshing source can
// feed a library that takes an oauth2.TokenSource, and a token obtained
// through x/oauth2 can drive a [client.Session].
//
// It is a package of its own so that package client depends on the
// standard library only; importing it adds golang.org/x/oauth2.
//
// The two Token types have the same JSON form (access_token,
// refresh_token, token_type, expiry), so stored tokens carry over too.
package paragonoauth2

import (
	"context"

	"golang.org/x/oauth2"

	"github.com/paragon-cli/paragon/client"
)

// TokenSource returns an oauth2.TokenSource over src. oauth2.TokenSource's
// Token takes no context, so every call uses ctx (for a refresh src makes:
// its cancellation and deadline). src keeps doing the refreshing (and
// saving), so do not wrap the result in oauth2.ReuseTokenSource's refresh
// logic expecting it to refresh on its own: it is already fresh.
func TokenSource(ctx context.Context, src client.TokenSource) oauth2.TokenSource {
	return toOAuth2{ctx: ctx, src: src}
}

type toOAuth2 struct {
	ctx context.Context
	src client.TokenSource
}

func (t toOAuth2) Token() (*oauth2.Token, error) {
	tok, err := t.src.Token(t.ctx)
	if err != nil {
		return nil, err
	}
	return ToOAuth2(tok), nil
}

// FromOAuth2 returns a client.TokenSource over src, e.g. for
// [client.Client.Session]. src decides when to refresh; the context of a
// Token call is only checked before asking src, which takes none.
func FromOAuth2(src oauth2.TokenSource) client.TokenSource { return fromOAuth2{src} }

type fromOAuth2 struct{ src oauth2.TokenSource }

func (f fromOAuth2) Token(ctx context.Context) (*client.Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tok, err := f.src.Token()
	if err != nil {
		return nil, err
	}
	return FromOAuth2Token(tok), nil
}

// ToOAuth2 converts a paragon token to an oauth2.Token (nil for nil).
func ToOAuth2(t *client.Token) *oauth2.Token {
	if t == nil {
		return nil
	}
	return &oauth2.Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: t.Type(), Expiry: t.Expiry}
}

// FromOAuth2Token converts an oauth2.Token to a paragon token (nil for
// nil).
func FromOAuth2Token(t *oauth2.Token) *client.Token {
	if t == nil {
		return nil
	}
	return &client.Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: t.Type(), Expiry: t.Expiry}
}
