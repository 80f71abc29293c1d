package docs

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/cmdtest"
)

// tree is a small paragon command tree with the docs group, as root wires it.
func tree(e *cmdtest.Env) *cobra.Command {
	root := &cobra.Command{Use: "paragon", Short: "Dispatcher Paragon Cloud API client"}
	root.CompletionOptions.DisableDefaultCmd = true
	scenario := &cobra.Command{Use: "scenario", Short: "Check a server against the protocol"}
	run := &cobra.Command{Use: "run [PATH...]", Short: "Run compliance scenarios against a server",
		RunE: func(*cobra.Command, []string) error { return nil }}
	run.Flags().String("server", "", "Run against the server at URL")
	scenario.AddCommand(run)
	root.AddCommand(scenario, NewCmdDocs(e.F))
	return root
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestManPagesAreNamedAfterTheirCommand(t *testing.T) {
	e := cmdtest.New(t, false)
	dir := filepath.Join(t.TempDir(), "man")
	if err := cmdtest.Execute(context.Background(), tree(e), "docs", "man", dir); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range entries {
		names = append(names, de.Name())
	}
	// docs is listed in --help like every command, so it has pages too.
	if got, want := strings.Join(names, " "), "paragon-docs-man.1 paragon-docs-markdown.1 paragon-docs.1 paragon-scenario-run.1 paragon-scenario.1 paragon.1"; got != want {
		t.Errorf("pages = %s, want %s", got, want)
	}
	page := readFile(t, filepath.Join(dir, "paragon-scenario-run.1"))
	// The fixed test clock is 26 November 2026.
	if want := `.TH "PARAGON-SCENARIO-RUN" "1" "Nov 2026" "paragon dev" "paragon manual"`; !strings.Contains(page, want) {
		t.Errorf("paragon-scenario-run.1 header is not %s:\n%s", want, page)
	}
	if !strings.Contains(page, "paragon-scenario-run - Run compliance scenarios against a server") {
		t.Errorf("paragon-scenario-run.1 lacks its NAME line:\n%s", page)
	}
	if strings.Contains(page, "Auto generated") {
		t.Errorf("the page carries cobra's generated-by tag:\n%s", page)
	}
	if !strings.Contains(e.ErrOut.String(), "Man pages written to "+dir) {
		t.Errorf("stderr = %q", e.ErrOut.String())
	}
}

func TestManDateFromSourceDateEpoch(t *testing.T) {
	e := cmdtest.New(t, false)
	e.Vars["SOURCE_DATE_EPOCH"] = "1700000000" // 14 November 2023
	dir := t.TempDir()
	if err := cmdtest.Execute(context.Background(), tree(e), "docs", "man", dir); err != nil {
		t.Fatal(err)
	}
	if page := readFile(t, filepath.Join(dir, "paragon.1")); !strings.Contains(page, `.TH "PARAGON" "1" "Nov 2023"`) {
		t.Errorf("paragon.1 is not dated from SOURCE_DATE_EPOCH:\n%s", page)
	}

	e.Vars["SOURCE_DATE_EPOCH"] = "yesterday"
	err := cmdtest.Execute(context.Background(), tree(e), "docs", "man", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), `SOURCE_DATE_EPOCH must be a number of seconds since 1970, not "yesterday"`) {
		t.Errorf("err = %v, want a SOURCE_DATE_EPOCH error", err)
	}
}

// TestManPageOpensWithMan renders a generated page with man -l, as a user
// (and the release check) would open it.
func TestManPageOpensWithMan(t *testing.T) {
	man, err := exec.LookPath("man")
	if err != nil {
		t.Skip("man not installed (apt-get install man-db): needed to render the generated page")
	}
	e := cmdtest.New(t, false)
	dir := t.TempDir()
	if err := cmdtest.Execute(context.Background(), tree(e), "docs", "man", dir); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(man, "-l", filepath.Join(dir, "paragon-scenario-run.1"))
	cmd.Env = append(os.Environ(), "MANWIDTH=80", "MANPAGER=cat", "PAGER=cat")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("man -l: %v\n%s", err, out)
	}
	for _, want := range []string{"PARAGON-SCENARIO-RUN(1)", "paragon-scenario-run - Run compliance scenarios", "--server"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("man -l output lacks %q:\n%s", want, out)
		}
	}
}

func TestMarkdownPages(t *testing.T) {
	e := cmdtest.New(t, false)
	dir := filepath.Join(t.TempDir(), "reference")
	if err := cmdtest.Execute(context.Background(), tree(e), "docs", "markdown", dir); err != nil {
		t.Fatal(err)
	}
	page := readFile(t, filepath.Join(dir, "paragon_scenario_run.md"))
	for _, want := range []string{"## paragon scenario run", "Run compliance scenarios against a server", "--server"} {
		if !strings.Contains(page, want) {
			t.Errorf("paragon_scenario_run.md lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "Auto generated") {
		t.Errorf("the page carries cobra's generated-by tag:\n%s", page)
	}
	if _, err := os.Stat(filepath.Join(dir, "paragon_docs_man.md")); err != nil {
		t.Errorf("the docs command has no page: %v", err)
	}
}

func TestDocsNeedsADirectory(t *testing.T) {
	e := cmdtest.New(t, false)
	for _, sub := range []string{"man", "markdown"} {
		if err := cmdtest.Execute(context.Background(), tree(e), "docs", sub); err == nil {
			t.Errorf("paragon docs %s without DIR succeeded", sub)
		}
	}
}
