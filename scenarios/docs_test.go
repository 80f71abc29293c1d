package scenarios

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// fragmentCast is what the step lists of docs/scenarios.md assume: the
// devices printer, laptop (with a key) and reader trusted with their tokens, kiosk and
// intruder registered, alice, bob and carol logged in, and alice's first
// refresh token in ${old_refresh}.
const fragmentCast = `- register: printer
- approve: printer
- device_token: printer
- register: {device: laptop, key: ed25519}
- approve: laptop
- device_token: laptop
- register: reader
- approve: reader
- device_token: reader
- register: kiosk
- register: intruder
- login: alice
  capture: {old_refresh: $.token.refresh_token}
- login: bob
- login: carol
`

// TestDocExamples reads every yaml block of docs/scenarios.md: whole
// scenarios must be valid and pass against the reference server, and so
// must lists of steps, run after fragmentCast.
func TestDocExamples(t *testing.T) {
	data, err := os.ReadFile("../docs/scenarios.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := yamlBlock.FindAllStringSubmatch(string(data), -1)
	if len(blocks) < 15 {
		t.Fatalf("only %d yaml blocks in docs/scenarios.md", len(blocks))
	}
	var whole []*Scenario
	kinds := map[string]bool{}
	targetFiles := 0
	for i, b := range blocks {
		src := b[1]
		if strings.HasPrefix(src, "# a target file\n") {
			targetFiles++
			checkTargetFileDoc(t, src)
			continue
		}
		if strings.HasPrefix(src, "- ") {
			// A list of steps runs after the cast its examples assume.
			wrapped := fmt.Sprintf("name: fragment-%d\nneeds: [admin, clock, device-key, second-key]\nsteps:\n%s%s", i+1, indent(fragmentCast), indent(src))
			list, err := Parse("docs/scenarios.md block "+strconv.Itoa(i+1), []byte(wrapped))
			if err != nil {
				t.Errorf("block %d: %v\n%s", i+1, err, src)
				continue
			}
			for _, st := range list[0].Steps {
				kinds[st.Kind] = true
			}
			whole = append(whole, list...)
			continue
		}
		list, err := Parse("docs/scenarios.md block "+strconv.Itoa(i+1), []byte(src))
		if err != nil {
			t.Errorf("block %d: %v\n%s", i+1, err, src)
			continue
		}
		for _, s := range list {
			for _, st := range s.Steps {
				kinds[st.Kind] = true
			}
		}
		whole = append(whole, list...)
	}
	for k := range actionKinds {
		if !kinds[k] {
			t.Errorf("docs/scenarios.md has no example of the %s step", k)
		}
	}
	all := ""
	for _, b := range blocks {
		all += b[1]
	}
	checks := []string{"status:", "headers:", "json:", "body:", "max_duration:", "capture:", "header ", ": status", ": body"}
	for _, name := range assertionNames() {
		checks = append(checks, name+":")
	}
	for _, check := range checks {
		if !strings.Contains(all, check) {
			t.Errorf("docs/scenarios.md has no yaml example using %q", check)
		}
	}
	if targetFiles == 0 {
		t.Error("docs/scenarios.md has no target file example (a yaml block starting with # a target file)")
	}
	rep, err := Run(context.Background(), whole, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Scenarios {
		if r.Status != Passed {
			t.Errorf("doc example %s", describe(r))
		}
	}
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// checkTargetFileDoc parses a target file example of the documentation and
// checks it shows every field a target file has.
func checkTargetFileDoc(t *testing.T, src string) {
	t.Helper()
	tf, err := ParseTargetFile("docs/scenarios.md", []byte(src), func(name string) string { return "value-of-" + name })
	if err != nil {
		t.Errorf("target file example: %v", err)
		return
	}
	if tf.Declared.Keys[KeyDefault].Value != "value-of-QA_API_KEY" || tf.Declared.Users["alice"].UserID == "" {
		t.Errorf("target file example parsed as %+v", tf.Declared)
	}
	for _, ty := range []reflect.Type{reflect.TypeFor[targetYAML](), reflect.TypeFor[keyYAML](), reflect.TypeFor[userYAML](), reflect.TypeFor[SettingsPatch]()} {
		for name := range structFields(ty) {
			if !strings.Contains(src, name+":") {
				t.Errorf("the target file example does not show the field %s", name)
			}
		}
	}
}

// TestRealServersDocExample parses the target file of docs/real-servers.md.
func TestRealServersDocExample(t *testing.T) {
	data, err := os.ReadFile("../docs/real-servers.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range yamlBlock.FindAllStringSubmatch(string(data), -1) {
		if strings.HasPrefix(b[1], "# a target file\n") {
			n++
			checkTargetFileDoc(t, b[1])
		}
	}
	if n != 1 {
		t.Errorf("%d target files in docs/real-servers.md, want 1", n)
	}
}
