package trust

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"

	"github.com/paragon-cli/paragon/client"
	"github.com/paragon-cli/paragon/cmd/internal/cmdtest"
	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/keystore"
)

// pendingDevice is a profile with a registered device whose registration
// (device code dc-1) waits for approval; the token endpoint says pending
// for the first `pending` polls, then approves.
func pendingDevice(t *testing.T, pending int) (*cmdtest.Env, *cmdutil.Session, *int) {
	t.Helper()
	e := cmdtest.New(t, false)
	e.AddProfile(t, "default")
	e.SetDevice(t, "default")
	e.DeleteDeviceTokens(t, "default")
	if err := e.Store.Set("default", ItemDeviceCode, `{"device_code":"dc-1"}`); err != nil {
		t.Fatal(err)
	}
	polls := 0
	e.HTTP.RegisterResponder("POST", cmdtest.Server+"/oauth/v1/token", func(r *http.Request) (*http.Response, error) {
		polls++
		if r.ParseForm(); r.PostForm.Get("device_code") != "dc-1" {
			return httpmock.NewStringResponse(400, `{"error":"invalid_grant"}`), nil
		}
		if polls > pending {
			return httpmock.NewStringResponse(200, `{"access_token":"device-at","refresh_token":"device-rt","expires_in":3600,"token_type":"Bearer"}`), nil
		}
		return httpmock.NewStringResponse(400, `{"error":"authorization_pending"}`), nil
	})
	s, err := e.F.OpenSession(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return e, s, &polls
}

func TestFinishWithoutWaitAsksOnce(t *testing.T) {
	e, s, polls := pendingDevice(t, 99)
	tok, err := Finish(context.Background(), s, FinishOptions{Now: e.Now})
	var still *StillPendingError
	if tok != nil || !errors.As(err, &still) || !errors.Is(err, ErrStillPending) || *polls != 1 {
		t.Fatalf("Finish = %v, %v after %d polls; want one poll and a StillPendingError", tok, err, *polls)
	}
	if want := e.Now.Add(client.DefaultPollInterval); !still.Next.Equal(want) {
		t.Errorf("next question at %s, want %s", still.Next, want)
	}
	p, err := LoadPending(s, e.Now)
	if err != nil || p == nil || !p.Next.Equal(still.Next) {
		t.Errorf("stored registration %+v, %v; want it kept with the time of the next question", p, err)
	}
	if _, err := Source(s); err == nil || !strings.Contains(err.Error(), "is not approved yet") {
		t.Errorf("Source of a pending device: %v", err)
	}
}

func TestFinishWaitsAndStores(t *testing.T) {
	e, s, polls := pendingDevice(t, 2)
	var events []string
	tok, err := Finish(context.Background(), s, FinishOptions{Now: e.Now, Wait: true, Interval: time.Second,
		Progress: func(ev client.PollEvent) { events = append(events, ev.Status) }})
	if err != nil || tok == nil || tok.AccessToken != "device-at" || *polls != 3 {
		t.Fatalf("Finish = %+v, %v after %d polls", tok, err, *polls)
	}
	if strings.Join(events, ",") != "authorization_pending,authorization_pending" {
		t.Errorf("progress saw %v", events)
	}
	if e.Get("default", ItemDeviceCode) != "" {
		t.Error("the finished registration is still stored")
	}
	src, err := Source(s)
	if err != nil {
		t.Fatal(err)
	}
	if cur := src.Current(); cur == nil || cur.RefreshToken != "device-rt" {
		t.Errorf("device source holds %+v", cur)
	}
	if tok, err := Finish(context.Background(), s, FinishOptions{Now: e.Now}); tok != nil || err != nil {
		t.Errorf("Finish with nothing pending = %v, %v; want nil, nil", tok, err)
	}
}

func TestLoadPendingExpired(t *testing.T) {
	e, s, _ := pendingDevice(t, 0)
	e.HTTP.Reset() // no poll in this test
	exp := e.Now.Add(time.Minute)
	if err := SavePending(s, Pending{DeviceCode: "dc-2", Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	if p, err := LoadPending(s, exp.Add(-time.Second)); err != nil || p == nil || p.DeviceCode != "dc-2" {
		t.Errorf("before expiry: %+v, %v", p, err)
	}
	if p, err := LoadPending(s, exp); err != nil || p != nil {
		t.Errorf("at expiry: %+v, %v; want none", p, err)
	}
}

func TestSourceWithoutDevice(t *testing.T) {
	e := cmdtest.New(t, false)
	e.AddProfile(t, "default")
	s, err := e.F.OpenSession(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var ae *cmdutil.AuthError
	if _, err := Source(s); !errors.As(err, &ae) || !strings.Contains(err.Error(), "no device registered") {
		t.Errorf("Source: %v", err)
	}
	if _, err := ForLogin(context.Background(), s, e.Now); !errors.As(err, &ae) || !strings.Contains(err.Error(), "register this machine first") {
		t.Errorf("ForLogin: %v", err)
	}
	for _, it := range Items {
		if it == keystore.ItemAPIKey || it == keystore.ItemUserRefreshToken {
			t.Errorf("device items include %s", it)
		}
	}
}
