package iostreams

import (
	"regexp"
	"strings"
	"testing"
)

var escapes = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestTableAligned(t *testing.T) {
	tb := NewTable("NAME", "SERVER", "KEYSTORE")
	tb.AddRow("default", "https://a.test", "")
	tb.AddRow("prod", "https://longer.test", "file")
	want := "NAME     SERVER               KEYSTORE\n" +
		"default  https://a.test\n" +
		"prod     https://longer.test  file\n"
	if got := tb.Aligned(nil); got != want {
		t.Errorf("aligned:\n%q\nwant\n%q", got, want)
	}
	// Styled cells and header line up as the plain ones do.
	cs := newScheme(&strings.Builder{}, true)
	styled := NewTable("NAME", "SERVER", "KEYSTORE")
	styled.AddRow(cs.Bold("default"), "https://a.test", "")
	styled.AddRow("prod", "https://longer.test", cs.Yellow("file"))
	got := styled.Aligned(cs.Bold)
	if !strings.Contains(got, "\x1b[") || escapes.ReplaceAllString(got, "") != want {
		t.Errorf("styled:\n%q\nwithout escapes it should be\n%q", got, want)
	}
}

func TestTableWithoutHeaderKeepsEveryRow(t *testing.T) {
	tb := NewTable()
	tb.Indent = 2
	tb.AddRow("API", "http://x")
	tb.AddRow("Clock", "real")
	if got, want := tb.Aligned(nil), "  API    http://x\n  Clock  real\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := NewTable().Aligned(nil); got != "" {
		t.Errorf("empty table: %q", got)
	}
}

func TestWriteTableTerminalOrPiped(t *testing.T) {
	tb := NewTable("NAME", "TAGS")
	tb.AddRow("login", "smoke,login")
	tb.AddRow("refresh-rotates", "")

	ios, _, out, _ := Test()
	if err := ios.WriteTable(tb); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "login\tsmoke,login\nrefresh-rotates\t\n"; got != want {
		t.Errorf("piped: %q, want tab-separated rows without the header: %q", got, want)
	}

	ios, _, out, _ = Test()
	ios.SetTTY(true)
	if err := ios.WriteTable(tb); err != nil {
		t.Fatal(err)
	}
	bold := ios.ColorScheme().Bold
	if !strings.Contains(bold("NAME"), "\x1b[") {
		t.Fatal("colour is off in the terminal test")
	}
	want := bold("NAME") + "             " + bold("TAGS") + "\nlogin            smoke,login\nrefresh-rotates\n"
	if got := out.String(); got != want {
		t.Errorf("terminal: %q, want %q (the header bold through the colour scheme)", got, want)
	}
}
