package profile

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/cmdtest"
	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/config"
	"github.com/paragon-cli/paragon/cmd/internal/trust"
	"github.com/paragon-cli/paragon/keystore"
)

func execute(cmd *cobra.Command, args ...string) error {
	cmd.SetArgs(args)
	cmd.SetOut(&strings.Builder{})
	cmd.SetErr(&strings.Builder{})
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })
	_, err := cmd.ExecuteC()
	return err
}

func TestListFlags(t *testing.T) {
	e := cmdtest.New(t, false)
	var got *ListOptions
	cmd := NewCmdList(e.F, func(_ context.Context, o *ListOptions) error { got = o; return nil })
	if err := execute(cmd, "--json"); err != nil {
		t.Fatal(err)
	}
	if !got.JSON {
		t.Error("--json not bound")
	}
	if err := execute(NewCmdList(e.F, func(context.Context, *ListOptions) error { return nil }), "extra"); err == nil {
		t.Error("list accepted an argument")
	}
}

func TestUseRemoveFlags(t *testing.T) {
	e := cmdtest.New(t, false)
	var name string
	if err := execute(NewCmdUse(e.F, func(_ context.Context, o *UseOptions) error { name = o.Name; return nil }), "prod"); err != nil || name != "prod" {
		t.Fatalf("use: %v %q", err, name)
	}
	if err := execute(NewCmdRemove(e.F, func(_ context.Context, o *RemoveOptions) error { name = o.Name; return nil }), "old"); err != nil || name != "old" {
		t.Fatalf("remove: %v %q", err, name)
	}
	if err := execute(NewCmdUse(e.F, func(context.Context, *UseOptions) error { return nil })); err == nil {
		t.Error("use without a name accepted")
	}
}

func setup(t *testing.T, tty bool) *cmdtest.Env {
	e := cmdtest.New(t, tty)
	e.AddProfile(t, "default")
	e.AddProfile(t, "prod")
	cfg := e.Config(t)
	p, _ := cfg.Profile("prod")
	p.OAuthURL = "https://oauth.test"
	p.Keystore = "file"
	cfg.Save()
	return e
}

func TestListRun(t *testing.T) {
	tests := []struct {
		name    string
		tty     bool
		json    bool
		profile string
		want    string
	}{
		{"tty", true, false, "", "  NAME     SERVER                OAUTH                 KEYSTORE\n* default  https://paragon.test  https://paragon.test\n  prod     https://paragon.test  https://oauth.test    file\n"},
		{"piped", false, false, "", "default\thttps://paragon.test\thttps://paragon.test\t\tcurrent\nprod\thttps://paragon.test\thttps://oauth.test\tfile\t\n"},
		{"piped with --profile", false, false, "prod", "default\thttps://paragon.test\thttps://paragon.test\t\t\nprod\thttps://paragon.test\thttps://oauth.test\tfile\tcurrent\n"},
		{"json", false, true, "", `[{"name":"default","server":"https://paragon.test","oauth_url":"https://paragon.test","current":true},{"name":"prod","server":"https://paragon.test","oauth_url":"https://oauth.test","keystore":"file","current":false}]` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, tt.tty)
			e.IO.SetNoColor(true)
			e.F.Globals.Profile = tt.profile
			cmd := NewCmdList(e.F, nil)
			args := []string{}
			if tt.json {
				args = append(args, "--json")
			}
			if err := execute(cmd, args...); err != nil {
				t.Fatal(err)
			}
			if e.Out.String() != tt.want {
				t.Errorf("stdout:\n%q\nwant\n%q", e.Out.String(), tt.want)
			}
		})
	}
}

// TestListColumnsAlignWithColour: the current profile's bold name must not
// push its row's columns out of line with the others.
func TestListColumnsAlignWithColour(t *testing.T) {
	e := setup(t, true)
	if err := execute(NewCmdList(e.F, nil)); err != nil {
		t.Fatal(err)
	}
	out := e.Out.String()
	if !strings.Contains(out, "\x1b[1mdefault") {
		t.Fatalf("current profile not bold: %q", out)
	}
	plain := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(out, "")
	want := "  NAME     SERVER                OAUTH                 KEYSTORE\n* default  https://paragon.test  https://paragon.test\n  prod     https://paragon.test  https://oauth.test    file\n"
	if plain != want {
		t.Errorf("without escapes:\n%q\nwant\n%q", plain, want)
	}
}

func TestListEmpty(t *testing.T) {
	e := cmdtest.New(t, true)
	if err := execute(NewCmdList(e.F, nil)); err != nil {
		t.Fatal(err)
	}
	if e.Out.Len() != 0 || !strings.Contains(e.ErrOut.String(), "paragon device register") {
		t.Errorf("stdout %q stderr %q", e.Out, e.ErrOut)
	}
	e2 := cmdtest.New(t, false)
	if err := execute(NewCmdList(e2.F, nil), "--json"); err != nil || e2.Out.String() != "[]\n" {
		t.Errorf("json of no profiles: %q %v", e2.Out, err)
	}
}

func TestUseRun(t *testing.T) {
	for _, tty := range []bool{true, false} {
		e := setup(t, tty)
		e.IO.SetNoColor(true)
		if err := execute(NewCmdUse(e.F, nil), "prod"); err != nil {
			t.Fatal(err)
		}
		if got := e.Config(t).CurrentProfile(); got != "prod" {
			t.Errorf("current %q", got)
		}
		wantErr := ""
		if tty {
			wantErr = "✓ Now using profile prod\n"
		}
		if e.ErrOut.String() != wantErr || e.Out.Len() != 0 {
			t.Errorf("tty=%v: stderr %q stdout %q", tty, e.ErrOut, e.Out)
		}
	}
}

func TestUseUnknownProfile(t *testing.T) {
	e := setup(t, false)
	err := execute(NewCmdUse(e.F, nil), "nope")
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), `unknown profile "nope"`) || !strings.Contains(err.Error(), "; profiles: default, prod (see paragon profile list)") {
		t.Fatalf("err %v", err)
	}
	e2 := cmdtest.New(t, false)
	if err := execute(NewCmdUse(e2.F, nil), "x"); err == nil || !strings.Contains(err.Error(), "no profiles yet") {
		t.Fatalf("err %v", err)
	}
}

func TestRemoveRun(t *testing.T) {
	e := setup(t, true)
	e.IO.SetNoColor(true)
	e.SetUserTokens(t, "prod", "at", "rt", e.Now)
	e.Store.Set("prod", keystore.ItemDeviceID, "dev-1")
	e.Store.Set("prod", trust.ItemDeviceCode, "{}")
	cfg := e.Config(t)
	cfg.Current = "prod"
	cfg.Save()
	if err := execute(NewCmdRemove(e.F, nil), "prod"); err != nil {
		t.Fatal(err)
	}
	for _, item := range append(keystore.Items, trust.ItemDeviceCode) {
		if v := e.Get("prod", item); v != "" {
			t.Errorf("%s still stored", item)
		}
	}
	if e.Get("default", keystore.ItemAPIKey) != cmdtest.APIKey {
		t.Error("removed another profile's secrets")
	}
	cfg = e.Config(t)
	if _, ok := cfg.Profile("prod"); ok || cfg.CurrentProfile() != config.DefaultProfile {
		t.Errorf("config after remove: %+v", cfg)
	}
	if e.ErrOut.String() != "✓ Removed profile prod and its secrets (memory)\n" {
		t.Errorf("stderr %q", e.ErrOut)
	}
	if err := execute(NewCmdRemove(e.F, nil), "prod"); err == nil {
		t.Error("removing a missing profile succeeded")
	}
}
