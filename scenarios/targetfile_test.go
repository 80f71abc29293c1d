package scenarios

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testEnv(name string) string {
	return map[string]string{"QA_API_KEY": "k-1", "QA_SECOND_KEY": "k-2", "PW1": "p-1", "PW2": "p-2", "PW3": "p-3"}[name]
}

// the example of docs/scenarios.md and docs/real-servers.md
const exampleTargetFile = `server: https://qa.example.com:7300
oauth_url: https://qa.example.com:7400
keys:
  default:
    value: "${QA_API_KEY}"
    allow_unauthenticated: false
    allow_untrusted: false
    auto_trust: false
  second: {value: "${QA_SECOND_KEY}"}
users:
  alice: {userid: qa-user-1, password: "${PW1}", card: C-1, short_id: "1001", email: qa1@example.com}
  bob:   {userid: qa-user-2, password: "${PW2}"}
  carol: {userid: qa-admin, password: "${PW3}", admin: true}
lifetimes:
  access_token_ttl: 1h
  refresh_token_ttl: 2160h
  device_code_ttl: 72h
device_keys: [ed25519, rsa, x509]
approval: command
approval_command: ./approve-device.sh
max_wait: 2m
`

func TestParseTargetFile(t *testing.T) {
	tf, err := ParseTargetFile("qa.yaml", []byte(exampleTargetFile), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	d := tf.Declared
	if tf.Server != "https://qa.example.com:7300" || tf.OAuthURL != "https://qa.example.com:7400" ||
		d.Keys["default"].Value != "k-1" || d.Keys["second"].Value != "k-2" || d.Users["alice"].UserID != "qa-user-1" ||
		d.Users["alice"].Password != "p-1" || d.Users["alice"].ShortID != "1001" || !d.Users["carol"].Admin ||
		durationOf(*d.Lifetimes.AccessTokenTTL) != time.Hour || d.Lifetimes.RefreshGrace != nil ||
		strings.Join(d.DeviceKeys, ",") != "ed25519,rsa,x509" || d.Approval != ApprovalCommand ||
		d.ApprovalCommand != "./approve-device.sh" || d.MaxWait != 2*time.Minute {
		t.Errorf("parsed %+v %+v", tf, d)
	}
	for _, s := range []string{"k-1", "k-2", "p-1", "C-1", "1001"} {
		found := false
		for _, x := range d.Secrets() {
			found = found || x == s
		}
		if !found {
			t.Errorf("%s is not among the secrets to mask", s)
		}
	}
	min, err := ParseTargetFile("min.yaml", []byte("keys: {default: {value: \"${QA_API_KEY}\"}}\n"), testEnv)
	if err != nil || min.Declared.Approval != ApprovalWait || min.Declared.MaxWait != DefaultMaxWait || min.Declared.DeviceKeys != nil {
		t.Errorf("defaults: %+v, %v", min, err)
	}
}

// Mistakes in a target file are named with file:line and what to write.
func TestTargetFileMistakes(t *testing.T) {
	key := "keys: {default: {value: \"${QA_API_KEY}\"}}\n"
	tests := []struct{ name, src, want string }{
		{"unknown field", key + "aproval: wait\n", `t.yaml:2:1: target: unknown field "aproval"; expected one of: approval, approval_command, device_keys, keys, lifetimes, max_wait, oauth_url, server, users; did you mean "approval"?`},
		{"wrong type", key + "max_wait: [1]\n", `t.yaml:2:11: target.max_wait: expected a duration such as 5s, 61m or 2160h, found a list`},
		{"wrong bool", "keys: {default: {value: \"${QA_API_KEY}\", auto_trust: yes please}}\n", `t.yaml:1:54: target.keys.default.auto_trust: expected true or false, found "yes please"`},
		{"literal key", "keys: {default: {value: my-secret-key}}\n", `t.yaml:1:25: keys.default.value: a secret is never written in the file; write "${VARIABLE}" and export VARIABLE in the environment`},
		{"literal password", key + "users: {alice: {userid: a, password: hunter2}}\n", `t.yaml:2:38: users.alice.password: a secret is never written in the file`},
		{"no default key", "keys: {main: {value: \"${QA_API_KEY}\"}}\n", `t.yaml:1:7: keys: expected a key named default`},
		{"bad approval", key + "approval: wiat\n", `t.yaml:2:11: approval: expected wait, command or prompt, found "wiat"; did you mean "wait"?`},
		{"command without program", key + "approval: command\n", `t.yaml:2:11: approval: command needs approval_command`},
		{"bad device key", key + "device_keys: [dsa]\n", `t.yaml:2:14: device_keys[0]: expected ed25519, ed25519-spki, rsa or x509, found "dsa"`},
		{"user without id", key + "users: {alice: {password: \"${PW1}\"}}\n", `t.yaml:2:16: users.alice: expected userid`},
		{"two documents", key + "---\n" + key, `t.yaml:3: a target file is one YAML document`},
		{"syntax", "keys: {default: [\n", `t.yaml:2: did not find expected node content`},
		{"deep", key + "x: " + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "\n", `nested more than 16 levels deep`},
		{"alias bomb", key + aliasBombTarget(), `expands to more than`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTargetFile("t.yaml", []byte(tt.src), testEnv)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want a validation error, got %v", err)
			}
			if !strings.Contains(ve.Error(), tt.want) {
				t.Errorf("got  %s\nwant %s", ve.Error(), tt.want)
			}
		})
	}
}

func aliasBombTarget() string {
	var b strings.Builder
	b.WriteString("a0: &a0 x\n")
	for i := 1; i <= 9; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(",")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// An unset variable is named with its field and line.
func TestTargetFileMissingVariable(t *testing.T) {
	_, err := ParseTargetFile("t.yaml", []byte("keys: {default: {value: \"${NOT_SET_ANYWHERE}\"}}\n"), testEnv)
	var mv *MissingVarError
	if !errors.As(err, &mv) || mv.Var != "NOT_SET_ANYWHERE" || mv.Line != 1 || mv.What != "target.keys.default.value" {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "t.yaml:1: target.keys.default.value: the environment variable NOT_SET_ANYWHERE is not set") {
		t.Errorf("message %q", err)
	}
}

func TestReadTargetFileLimits(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadTargetFile(filepath.Join(dir, "missing.yaml"), testEnv); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", maxTargetFileSize)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var ve *ValidationError
	if _, err := ReadTargetFile(big, testEnv); !errors.As(err, &ve) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big file: %v", err)
	}
}

// FuzzParseTargetFile: any text is a target file or a problem list, never a
// panic or a hang. The seed corpus runs as an ordinary test.
func FuzzParseTargetFile(f *testing.F) {
	f.Add(exampleTargetFile)
	f.Add(vendorTargetFile)
	f.Add("keys: {default: {value: \"${QA_API_KEY}\"}}\n" + aliasBombTarget())
	f.Add("keys: &k {default: *k}\n")
	f.Add("lifetimes: {access_token_ttl: -1s}\nmax_wait: 0s\n")
	f.Fuzz(func(t *testing.T, src string) {
		tf, err := ParseTargetFile("f.yaml", []byte(src), func(string) string { return "v" })
		if err == nil && (tf.Declared == nil || tf.Declared.Keys[KeyDefault].Value == "") {
			t.Errorf("accepted without a default key: %q", src)
		}
	})
}
