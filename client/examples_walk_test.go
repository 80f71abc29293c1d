package client_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/paragon-cli/paragon/client"
)

// The authorized *http.Client of a login: every request carries the API key
// and the user's token, refreshed before it expires; CheckResponse turns a
// non-2xx answer into the typed error.
func ExampleSession_HTTPClient() {
	ctx := context.Background()
	ref := startExampleServer() // reference server; an admin approves devices while Wait polls
	defer ref.Close()

	c, err := client.New(client.Config{BaseURL: ref.URL, APIKey: "paragon-dev-key", Sleep: ref.WaitForAdmin})
	check(err)
	reg, err := c.Register(ctx, client.RegisterRequest{Description: "example"})
	check(err)
	dev, err := reg.Wait(ctx)
	check(err)
	sess, err := c.Login(ctx, client.LoginRequest{UserID: "alice", Password: "wonderland", Device: dev})
	check(err)

	hc := sess.HTTPClient()
	resp, err := hc.Get(c.APIURL("/api/v1/users?username=bob"))
	check(err)
	defer resp.Body.Close()
	check(client.CheckResponse(resp))
	fmt.Println(resp.Status)
	// Output: 200 OK
}

// Register a new device (a fresh id and key) and wait until an
// administrator approves it; Wait polls at the interval the server asks
// for and slows down when told to.
func ExampleRegistration_Wait() {
	ctx := context.Background()
	ref := startExampleServer()
	defer ref.Close()

	c, err := client.New(client.Config{BaseURL: ref.URL, APIKey: "paragon-dev-key", Sleep: ref.WaitForAdmin})
	check(err)
	reg, err := c.Register(ctx, client.RegisterRequest{Description: "print service"})
	check(err)
	reg.Progress = func(ev client.PollEvent) { fmt.Println("poll", ev.Attempt, ev.Status) }
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute) // the device code's life is the real limit
	defer cancel()
	dev, err := reg.Wait(ctx)
	switch {
	case errors.Is(err, client.ErrAccessDenied):
		fmt.Println("an administrator refused the device")
	case err != nil:
		panic(err)
	default:
		fmt.Println("trusted:", dev.ID == reg.ClientID)
	}
	// Output:
	// poll 1 authorization_pending
	// trusted: true
}

// Keep the device and the login in files between runs: the first run
// registers and logs in, every later run loads both and goes on, the
// tokens refreshed and saved as they expire.
func ExampleFileStore() {
	ctx := context.Background()
	ref := startExampleServer()
	defer ref.Close()
	dir, err := os.MkdirTemp("", "paragon-example") // a service: its own state directory
	check(err)
	defer os.RemoveAll(dir)

	run := func() string {
		c, err := client.New(client.Config{BaseURL: ref.URL, APIKey: "paragon-dev-key", Now: ref.Now, Sleep: ref.WaitForAdmin})
		check(err)
		devFile := client.FileStore{Path: filepath.Join(dir, "device.json")}
		aliceFile := client.FileStore{Path: filepath.Join(dir, "alice.json")}
		if tok, _ := aliceFile.Load(); tok != nil {
			return "resumed, " + mustUser(c.UserSession(aliceFile))
		}
		dev, err := c.LoadDevice(devFile)
		if errors.Is(err, client.ErrNoDevice) {
			reg, rerr := c.Register(ctx, client.RegisterRequest{Description: "print service", Store: devFile})
			check(rerr)
			dev, err = reg.Wait(ctx)
		}
		check(err)
		sess, err := c.Login(ctx, client.LoginRequest{UserID: "alice", Password: "wonderland", Device: dev, Store: aliceFile})
		check(err)
		return "logged in, " + mustUser(sess)
	}
	fmt.Println(run())
	ref.Advance(3 * time.Hour) // the access token expired meanwhile
	fmt.Println(run())
	// Output:
	// logged in, alice
	// resumed, alice
}

func mustUser(s *client.Session) string {
	u, err := s.GetUser(context.Background(), "alice")
	check(err)
	return u.Username
}

// The errors a program acts on: a wrong password, throttling, a login that
// must be repeated and an untrusted device are matched with errors.Is; the
// server's answer is an *APIError.
func ExampleAPIError() {
	ctx := context.Background()
	ref := startExampleServer()
	defer ref.Close()
	c, err := client.New(client.Config{BaseURL: ref.URL, APIKey: "paragon-dev-key", Sleep: ref.WaitForAdmin})
	check(err)
	reg, err := c.Register(ctx, client.RegisterRequest{Description: "example"})
	check(err)
	dev, err := reg.Wait(ctx)
	check(err)

	_, err = c.Login(ctx, client.LoginRequest{UserID: "alice", Password: "not-her-password", Device: dev})
	var apiErr *client.APIError
	switch {
	case errors.Is(err, client.ErrInvalidCredentials):
		errors.As(err, &apiErr)
		fmt.Println("wrong password:", apiErr.StatusCode, apiErr.Code)
	case errors.Is(err, client.ErrTooManyAttempts):
		errors.As(err, &apiErr)
		fmt.Println("try again in", apiErr.RetryAfter)
	case errors.Is(err, client.ErrDeviceNotTrusted):
		fmt.Println("register the device again")
	case err != nil:
		panic(err)
	}
	// A session whose user is not logged in: log in again.
	_, err = c.UserSession(new(vault).Store("nobody")).Version(ctx)
	fmt.Println("login required:", errors.Is(err, client.ErrLoginRequired))
	// Output:
	// wrong password: 401 invalid_credentials
	// login required: true
}

// Page through the document history: AllDocumentHistory follows
// nextPageToken; DocumentHistory returns one page.
func ExampleSession_AllDocumentHistory() {
	ctx := context.Background()
	ref := startExampleServer()
	defer ref.Close()
	c, err := client.New(client.Config{BaseURL: ref.URL, APIKey: "paragon-dev-key", Sleep: ref.WaitForAdmin})
	check(err)
	reg, err := c.Register(ctx, client.RegisterRequest{Description: "example"})
	check(err)
	dev, err := reg.Wait(ctx)
	check(err)
	sess, err := c.Login(ctx, client.LoginRequest{UserID: "alice", Password: "wonderland", Device: dev})
	check(err)
	for i := range 3 {
		_, err := sess.SubmitDocument(ctx, client.PrintJob{Title: fmt.Sprint("report ", i), Data: []byte("%PDF-1.4")})
		check(err)
	}

	for doc, err := range sess.AllDocumentHistory(ctx, client.HistoryQuery{MaxRecords: 2}) { // pages of 2
		check(err)
		fmt.Println(doc.Title, doc.Copies, doc.Size)
	}
	// Output:
	// report 0 1 8
	// report 1 1 8
	// report 2 1 8
}
