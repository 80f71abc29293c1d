package archtest

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/paragon-cli/paragon"

// rule says what a package (and, with a trailing "/...", its subpackages)
// may import of this module; allowThirdParty says whether it may import
// modules outside the standard library and this module.
type rule struct {
	pkg             string
	allow           []string
	allowThirdParty bool
}

// rules is the "may import of ours" column of ARCHITECTURE.md. Packages
// that no rule names (cmd/..., e2e/..., bench/..., test helpers) may
// import anything of ours, except what the general rules below forbid.
var rules = []rule{
	{pkg: "client", allow: []string{"internal/redact"}},
	{pkg: "client/paragonoauth2", allow: []string{"client"}, allowThirdParty: true},
	{pkg: "keystore/...", allow: []string{"keystore/..."}, allowThirdParty: true},
	{pkg: "internal/redact"},
	{pkg: "server/...", allow: []string{"server/..."}, allowThirdParty: true},
	{pkg: "server/adminweb", allow: []string{"server/internal/throttle"}, allowThirdParty: true},
	{pkg: "scenarios/...", allow: []string{"client", "client/...", "server", "server/...", "scenarios/...", "internal/..."}, allowThirdParty: true},
	{pkg: "cmd/internal/iostreams", allowThirdParty: true},
	{pkg: "cmd/internal/tokenstore", allow: []string{"client", "keystore"}, allowThirdParty: true},
	{pkg: "cmd/internal/early", allow: []string{"keystore/ssfast"}},
}

func matches(pattern, pkg string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == pattern
}

// ruleFor returns the rule for pkg: the one naming it exactly, else the
// longest "/..." pattern that covers it.
func ruleFor(pkg string) (rule, bool) {
	var best rule
	found := false
	for _, r := range rules {
		if r.pkg == pkg {
			return r, true
		}
		if matches(r.pkg, pkg) && (!found || len(r.pkg) > len(best.pkg)) {
			best, found = r, true
		}
	}
	return best, found
}

func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// TestImportRules checks every non-test import of every package of the
// module against ARCHITECTURE.md.
func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"/...").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go list: %v\n%s", err, stderr)
	}
	checked := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		pkg := strings.TrimPrefix(strings.TrimPrefix(fields[0], module), "/")
		for _, imp := range fields[1:] {
			ours, isOurs := strings.CutPrefix(imp, module+"/")
			if isOurs && (ours == "cmd" || strings.HasPrefix(ours, "cmd/")) && !strings.HasPrefix(pkg, "cmd/") && !strings.HasPrefix(pkg, "e2e") && !strings.HasPrefix(pkg, "bench/") {
				t.Errorf("%s imports %s: nothing outside cmd/ imports cmd/...", pkg, ours)
			}
			if isOurs && (ours == "e2e" || strings.HasPrefix(ours, "e2e/")) {
				t.Errorf("%s imports %s: e2e packages are tests only", pkg, ours)
			}
			r, ok := ruleFor(pkg)
			if !ok {
				continue
			}
			checked++
			switch {
			case isOurs:
				allowed := false
				for _, a := range r.allow {
					allowed = allowed || matches(a, ours)
				}
				if !allowed {
					t.Errorf("%s imports %s; ARCHITECTURE.md allows it only %v", pkg, ours, r.allow)
				}
			case !isStd(imp) && !r.allowThirdParty:
				t.Errorf("%s imports the third-party module %s; it may use only the standard library", pkg, imp)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no import was checked: is go list answering for this module?")
	}
}

// TestRuleMatching pins the precedence of rules, so the table above means
// what it says.
func TestRuleMatching(t *testing.T) {
	for pkg, want := range map[string]string{
		"client":                        "client",
		"client/paragonoauth2":          "client/paragonoauth2",
		"server":                        "server/...",
		"server/adminweb":               "server/adminweb",
		"server/internal/throttle":      "server/...",
		"scenarios/report":              "scenarios/...",
		"keystore/internal/mockkeyring": "keystore/...",
	} {
		r, ok := ruleFor(pkg)
		if !ok || r.pkg != want {
			t.Errorf("ruleFor(%q) = %q, %v; want %q", pkg, r.pkg, ok, want)
		}
	}
	if _, ok := ruleFor("cmd/api"); ok {
		t.Error("cmd/api has a rule; cmd packages may import anything")
	}
}
