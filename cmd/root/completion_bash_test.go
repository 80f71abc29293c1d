package root

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestBashCompletion loads the generated bash completion into a real bash,
// as a user's shell would, and completes a partial command word with the
// real binary answering cobra's __complete requests.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed: the completion test needs it")
	}
	const bashCompletion = "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(bashCompletion); err != nil {
		t.Skip("bash-completion not installed (apt-get install bash-completion): the completion script needs it, as on users' machines")
	}
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "paragon")
	build := exec.Command("go", "build", "-o", bin, "../paragon")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	script := filepath.Join(dir, "paragon.bash")
	gen := exec.Command(bin, "completion", "bash")
	out, err := gen.Output()
	if err != nil {
		t.Fatalf("paragon completion bash: %v", err)
	}
	if err := os.WriteFile(script, out, 0o644); err != nil {
		t.Fatal(err)
	}

	complete := func(words ...string) []string {
		t.Helper()
		// What bash does on <TAB>: set COMP_WORDS/COMP_CWORD/COMP_LINE and
		// call the function registered for the command.
		line := strings.Join(words, " ")
		prog := `source ` + bashCompletion + `; source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
fn=$(complete -p paragon | sed -E 's/.*-F ([^ ]+) .*/\1/')
"$fn" paragon "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"`
		cmd := exec.Command(bash, append([]string{"--norc", "--noprofile", "-c", prog, "bash", script}, words...)...)
		cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
		// stderr only carries bash's "compopt: not currently executing
		// completion function", since no real <TAB> is being handled.
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("completing %q: %v\n%s", line, err, stderr.String())
		}
		return strings.Fields(string(out))
	}

	// paragon sc<TAB> is the issue's own example; the others cover a
	// subcommand and a flag, which go through the binary's __complete too.
	cases := []struct {
		words []string
		want  []string
	}{
		{[]string{"paragon", "sc"}, []string{"scenario"}},
		{[]string{"paragon", "ver"}, []string{"version"}},
		{[]string{"paragon", "scenario", "ru"}, []string{"run"}},
		{[]string{"paragon", "scenario", "run", "--sha"}, []string{"--shard"}},
	}
	for _, c := range cases {
		got := complete(c.words...)
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s<TAB> completed to %q, want %q", strings.Join(c.words, " "), got, c.want)
		}
	}

	// paragon <TAB> offers every command a user can see (not the hidden
	// docs command), straight from the command tree.
	root := NewCmdRoot(testFactory())
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var visible []string
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() || c.Name() == "help" {
			visible = append(visible, c.Name())
		}
	}
	got := complete("paragon", "")
	sort.Strings(got)
	sort.Strings(visible)
	if strings.Join(got, " ") != strings.Join(visible, " ") {
		t.Errorf("paragon <TAB> offered %q, want %q", got, visible)
	}
}
