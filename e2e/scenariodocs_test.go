package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScenarioDocCommands runs the sh blocks of docs/scenarios.md (the
// examples of scenario run's flags and report formats) with the real binary
// on PATH, in order in one shell in an empty directory, each output compared
// with the text block after it.
func TestScenarioDocCommands(t *testing.T) {
	needTools(t, "bash", "grep")
	doc, err := os.ReadFile("../docs/scenarios.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := parseDoc(string(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) < 1 {
		t.Fatalf("found only %d sh blocks in docs/scenarios.md", len(blocks))
	}
	var script strings.Builder
	script.WriteString("set -eu\n")
	for i, b := range blocks {
		fmt.Fprintf(&script, "echo '@@@block %d@@@'\n", i)
		for _, l := range b.script {
			script.WriteString(l + "\n")
		}
	}
	work := t.TempDir()
	env := append(testEnv(t), "PATH="+filepath.Dir(binary(t))+string(os.PathListSeparator)+os.Getenv("PATH"))
	checked := runDocScript(t, "docs/scenarios.md", blocks, script.String(), work, env)
	t.Logf("ran %d shell blocks, checked %d outputs", len(blocks), checked)
}
