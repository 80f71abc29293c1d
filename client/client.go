package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/paragon-cli/paragon/internal/redact"
)

// Config configures a [Client]. Only BaseURL and APIKey are required.
type Config struct {
	// BaseURL is the public API's base URL, e.g. "https://host:7300"; the
	// paths /api/v1/... are appended to it.
	BaseURL string
	// OAuthURL is the OAuth service's base URL (paths /oauth/v1/...);
	// empty means BaseURL.
	OAuthURL string
	// APIKey is sent as X-Api-Key and as the OAuth client_secret.
	APIKey string
	// HTTPClient makes the requests; nil means a client with a 30 s timeout.
	// Its Transport may be a [DebugTransport].
	HTTPClient *http.Client
	// Now is the clock used to compute token expiry; nil means time.Now.
	Now func() time.Time
	// Sleep waits between device-token polls; it must return ctx.Err()
	// early when ctx is done. nil means a real timer honouring ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// UserAgent is sent as User-Agent when non-empty.
	UserAgent string
}

// Client speaks the protocol to one server with one API key. It holds no
// token itself (see [Client.UserTokenSource], [Client.Session]) and is safe
// for concurrent use by multiple goroutines.
type Client struct {
	base   *url.URL
	oauth  *url.URL
	apiKey string
	hc     *http.Client
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
	ua     string
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	base, err := parseBase(cfg.BaseURL, "BaseURL")
	if err != nil {
		return nil, err
	}
	oauth := base
	if cfg.OAuthURL != "" {
		if oauth, err = parseBase(cfg.OAuthURL, "OAuthURL"); err != nil {
			return nil, err
		}
	}
	if cfg.APIKey == "" {
		return nil, errorf("config: APIKey is required")
	}
	c := &Client{base: base, oauth: oauth, apiKey: cfg.APIKey, hc: cfg.HTTPClient,
		now: cfg.Now, sleep: cfg.Sleep, ua: cfg.UserAgent}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: 30 * time.Second}
	} else {
		hc := *c.hc // the caller's client is not modified
		c.hc = &hc
	}
	c.hc.CheckRedirect = c.checkRedirect(c.hc.CheckRedirect)
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	return c, nil
}

func parseBase(s, name string) (*url.URL, error) {
	if s == "" {
		return nil, errorf("config: %s is required", name)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errorf("config: %s %q is not an http(s) URL", name, s)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// checkRedirect returns the redirect policy of the client's requests: a
// redirect is followed only to the host of the request that started the
// chain or to a configured API or OAuth host, and never from https to http.
// Go's http.Client would otherwise resend X-Api-Key, and on 307 and 308 the
// whole form (client_secret, password, refresh_token), to whatever host the
// Location names. next, the caller's own policy, is applied after this one.
func (c *Client) checkRedirect(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) == 0 {
			return nil
		}
		prev, first := via[len(via)-1], via[0]
		target := req.URL.Scheme + "://" + req.URL.Host
		if strings.EqualFold(prev.URL.Scheme, "https") && !strings.EqualFold(req.URL.Scheme, "https") {
			return errorf("refusing to follow a redirect from https to %s: it would send credentials unencrypted", target)
		}
		if !strings.EqualFold(req.URL.Host, first.URL.Host) && !strings.EqualFold(req.URL.Host, c.base.Host) &&
			!strings.EqualFold(req.URL.Host, c.oauth.Host) {
			return errorf("refusing to follow a redirect to %s: credentials are only sent to the configured server", target)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errorf("stopped after 10 redirects")
		}
		return nil
	}
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// APIKey returns the configured API key.
func (c *Client) APIKey() string { return c.apiKey }

// Now returns the client's clock reading.
func (c *Client) Now() time.Time { return c.now() }

// APIURL returns the absolute URL of an API path such as "/api/v1/version".
func (c *Client) APIURL(path string) string { return join(c.base, path) }

// OAuthEndpoint returns the absolute URL of an OAuth path such as
// "/oauth/v1/token".
func (c *Client) OAuthEndpoint(path string) string { return join(c.oauth, path) }

func join(base *url.URL, path string) string {
	u := *base
	p, q, _ := strings.Cut(path, "?")
	u.Path = base.Path + p
	u.RawQuery = q
	return u.String()
}

// maxBody bounds how much of a successful answer is read.
const maxBody = 32 << 20

// postForm sends form to the OAuth or API endpoint url, signing the exact
// body bytes with key when key is non-nil, and returns the 2xx body or an
// *APIError. extra headers (e.g. Authorization) are added.
func (c *Client) postForm(ctx context.Context, endpoint string, form url.Values, key ed25519.PrivateKey, extra http.Header) ([]byte, error) {
	body := []byte(form.Encode())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if key != nil {
		req.Header.Set(SignatureHeader, SignBody(key, body))
	}
	for k, vs := range extra {
		req.Header[k] = vs
	}
	b, err := c.send(req)
	return b, maskEcho(err, form)
}

// maskEcho masks, in the description of the *APIError in err, the secrets
// the request carried: the values of form's secret fields (see
// [DebugTransport]) and extra. Some servers quote what they refuse
// ("Invalid refresh token: …"), and error messages must not carry secrets.
func maskEcho(err error, form url.Values, extra ...string) error {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Description == "" {
		return err
	}
	sv := &redact.Set{}
	copied := url.Values{}
	for k, vs := range form {
		copied[k] = slices.Clone(vs)
	}
	redact.Form(copied, sv)
	for _, s := range extra {
		sv.Add(s)
	}
	ae.Description = sv.Scrub(ae.Description)
	return err
}

// send performs req (adding User-Agent) and returns the body of a 2xx
// answer, or an *APIError for any other status.
func (c *Client) send(req *http.Request) ([]byte, error) {
	if c.ua != "" && req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", c.ua)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, scrubURLError(err)
	}
	defer resp.Body.Close()
	if resp.Request == nil {
		resp.Request = req
	}
	return c.readAnswer(resp)
}

func (c *Client) readAnswer(resp *http.Response) ([]byte, error) {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, c.AnswerError(resp, b)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, errorf("reading answer: %v", err)
	}
	return b, nil
}

// AnswerError returns the *APIError of a non-2xx answer whose body is body:
// the server's code and description, with every secret the request carried
// masked in the description (the API key, the Authorization credentials,
// and the secret fields of the query and of a form body; see
// [DebugTransport]), since some servers quote what they refuse.
// resp.Request should be the request as sent, as http.Client leaves it.
//
// [CheckResponse] does the same for an answer whose body is still unread.
func (c *Client) AnswerError(resp *http.Response, body []byte) *APIError {
	return answerError(resp, body, c.now(), c.apiKey)
}

// CheckResponse checks an answer to a request made with the authorized
// *http.Client (or any request to a Paragon server), as go-github's
// CheckResponse does: it returns nil for a 2xx status and leaves the body
// alone; for any other status it reads (up to 64 KiB) and closes resp.Body
// and returns the *APIError, which matches the package's sentinels with
// [errors.Is] (e.g. [ErrInvalidCredentials], [ErrTooManyAttempts]). The
// description is masked as by [Client.AnswerError], from the credentials
// resp.Request carried.
func CheckResponse(resp *http.Response) error {
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_ = resp.Body.Close()
	return answerError(resp, b, time.Now(), "")
}

func answerError(resp *http.Response, body []byte, now time.Time, apiKey string) *APIError {
	e := newAPIError(resp, body, now)
	secrets := []string{apiKey}
	var form url.Values
	if r := resp.Request; r != nil { // the request as sent, credentials included
		secrets = append(secrets, r.Header.Get("X-Api-Key"))
		if _, cred, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok {
			secrets = append(secrets, cred)
		}
		if r.URL != nil {
			form = r.URL.Query()
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" && r.GetBody != nil {
			if rc, err := r.GetBody(); err == nil {
				b, _ := io.ReadAll(io.LimitReader(rc, maxErrorBody))
				_ = rc.Close()
				if f, err := url.ParseQuery(string(b)); err == nil {
					if form == nil {
						form = url.Values{}
					}
					for k, vs := range f {
						form[k] = append(form[k], vs...)
					}
				}
			}
		}
	}
	_ = maskEcho(e, form, secrets...)
	return e
}

// scrubURLError removes the query string from a *url.Error's URL so that a
// GET login's password never ends up in an error message.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil && u.RawQuery != "" {
			u.RawQuery = redact.Mask
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}
