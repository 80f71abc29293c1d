package scenarios

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"time"

	"gopkg.in/yaml.v3"
)

// A target file (paragon scenario run --target FILE) says what the suite may
// assume about a server it cannot configure: its keys and their switches,
// the real accounts that stand in for the scenarios' users, its lifetimes,
// the device key types it accepts and how its devices get trusted.

// The approval methods of a target file.
const (
	ApprovalWait    = "wait"    // poll until the server trusts the device
	ApprovalCommand = "command" // run approval_command with the device id, then poll
	ApprovalPrompt  = "prompt"  // print the device and wait for a person, then poll
)

// DefaultMaxWait is a target file's max_wait when it names none.
const DefaultMaxWait = 2 * time.Minute

// maxTargetFileSize bounds what ParseTargetFile reads.
const maxTargetFileSize = 1 << 20

// maxTargetDepth bounds the nesting of a target file.
const maxTargetDepth = 16

// TargetFile is a parsed target file.
type TargetFile struct {
	Server   string // API root; "" when the file names none
	OAuthURL string // "" when the file names none
	Declared *Declared
}

// Declared is what a target file declares about a server that the runner
// cannot configure. With it and without an admin API, a scenario's given is
// a requirement the declaration must satisfy, approve steps use Approval and
// advance steps wait for real.
type Declared struct {
	File            string                  // where it was read, for messages
	Keys            map[string]DeclaredKey  // name → key; "default" is always there
	Users           map[string]DeclaredUser // the scenarios' user names → real accounts
	Lifetimes       SettingsPatch           // nil fields: not declared
	DeviceKeys      []string                // key types accepted; nil: all of them
	Approval        string                  // ApprovalWait (default), ApprovalCommand or ApprovalPrompt
	ApprovalCommand string                  // for ApprovalCommand: gets the device id as $1
	MaxWait         time.Duration           // the longest real wait one scenario may do
}

// DeclaredKey is an API key of the target and its switches as set there;
// a key may also be declared inactive, expired or restricted, for the
// scenarios that check such keys are refused.
type DeclaredKey struct {
	Value                string
	AllowUnauthenticated bool
	AllowUntrusted       bool
	AutoTrust            bool
	Active               *bool    // nil: active
	ExpiresAt            string   // RFC 3339; "": never
	AllowedIPs           []string // empty: any address
	Permissions          []string // empty: every function
}

// Usable reports whether the key is active and unrestricted: the runner
// checks such keys before the run and picks them for scenarios that do
// not ask for a restricted key.
func (k DeclaredKey) Usable() bool {
	return (k.Active == nil || *k.Active) && k.ExpiresAt == "" && len(k.AllowedIPs) == 0 && len(k.Permissions) == 0
}

// DeclaredUser is a real account standing in for a scenario's user.
type DeclaredUser struct {
	UserID, Password, Card, ShortID, Email string
	Admin                                  bool
}

// the YAML shapes of a target file
type targetYAML struct {
	Server          string              `yaml:"server"`
	OAuthURL        string              `yaml:"oauth_url"`
	Keys            map[string]keyYAML  `yaml:"keys"`
	Users           map[string]userYAML `yaml:"users"`
	Lifetimes       SettingsPatch       `yaml:"lifetimes"`
	DeviceKeys      *[]string           `yaml:"device_keys"`
	Approval        string              `yaml:"approval"`
	ApprovalCommand string              `yaml:"approval_command"`
	MaxWait         *Duration           `yaml:"max_wait"`
}

type keyYAML struct {
	Value                string   `yaml:"value"`
	AllowUnauthenticated bool     `yaml:"allow_unauthenticated"`
	AllowUntrusted       bool     `yaml:"allow_untrusted"`
	AutoTrust            bool     `yaml:"auto_trust"`
	Active               *bool    `yaml:"active"`
	ExpiresAt            string   `yaml:"expires_at"`
	AllowedIPs           []string `yaml:"allowed_ips"`
	Permissions          []string `yaml:"permissions"`
}

type userYAML struct {
	UserID   string `yaml:"userid"`
	Password string `yaml:"password"`
	Card     string `yaml:"card"`
	ShortID  string `yaml:"short_id"`
	Email    string `yaml:"email"`
	Admin    bool   `yaml:"admin"`
}

// MissingVarError is a ${VAR} of a target file that is not set in the
// environment.
type MissingVarError struct {
	File string
	Line int
	Var  string
	What string // the field
}

func (e *MissingVarError) Error() string {
	return fmt.Sprintf("%s:%d: %s: the environment variable %s is not set (export %s=... before the run)", e.File, e.Line, e.What, e.Var, e.Var)
}

var (
	envRef    = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	onlyEnv   = regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*\}$`)
	deviceKTs = []string{"ed25519", "ed25519-spki", "rsa", "x509"}
)

// ReadTargetFile reads and parses a target file; ${VAR} is read through
// getenv (os.Getenv when nil). Problems in the file are a *ValidationError
// (file:line: what to write instead), an unset variable a *MissingVarError.
func ReadTargetFile(name string, getenv func(string) string) (*TargetFile, error) {
	data, err := readLimited(name, maxTargetFileSize)
	if err != nil {
		return nil, fmt.Errorf("target file: %w", err)
	}
	if len(data) > maxTargetFileSize {
		return nil, &ValidationError{Problems: []Problem{{File: name, Line: 1, Message: fmt.Sprintf("the file is larger than %d bytes; a target file is a few lines", maxTargetFileSize)}}}
	}
	return ParseTargetFile(name, data, getenv)
}

// ParseTargetFile parses the text of a target file (see ReadTargetFile).
func ParseTargetFile(name string, data []byte, getenv func(string) string) (*TargetFile, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	d := &decoder{ctx: context.Background(), file: name, budget: nodeBudget(len(data))}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ValidationError{Problems: []Problem{{File: name, Line: 1, Message: "the file is empty; expected at least keys: {default: {value: \"${API_KEY}\"}}"}}}
		}
		return nil, &ValidationError{Problems: []Problem{syntaxProblem(name, err)}}
	}
	var extra yaml.Node
	if dec.Decode(&extra) == nil && len(extra.Content) > 0 {
		return nil, &ValidationError{Problems: []Problem{{File: name, Line: extra.Content[0].Line, Message: "a target file is one YAML document; remove the second one (after ---)"}}}
	}
	root := doc.Content[0]
	if !checkDepth(d, root, 0) {
		return nil, &ValidationError{Problems: d.problems}
	}
	var missing *MissingVarError
	var y targetYAML
	if root.Kind == yaml.MappingNode {
		// the fields whose values are secrets: only ${VAR} is accepted
		for _, kv := range d.mappingPairs(root, "target") {
			sec := map[string]string{"keys": "value", "users": "password"}[kv[0].Value]
			if sec == "" || resolve(kv[1]).Kind != yaml.MappingNode {
				continue
			}
			for _, item := range d.mappingPairs(kv[1], kv[0].Value) {
				if resolve(item[1]).Kind != yaml.MappingNode {
					continue
				}
				for _, f := range d.mappingPairs(item[1], kv[0].Value+"."+item[0].Value) {
					if f[0].Value == sec && !onlyEnv.MatchString(resolve(f[1]).Value) {
						d.errorf(f[1], "%s.%s.%s: a secret is never written in the file; write \"${VARIABLE}\" and export VARIABLE in the environment", kv[0].Value, item[0].Value, sec)
					}
				}
			}
		}
		if len(d.problems) > 0 {
			return nil, &ValidationError{Problems: d.problems}
		}
		expandEnv(d, root, "target", getenv, &missing)
		if missing != nil {
			return nil, missing
		}
	}
	d.visited = 0
	d.decode(root, reflect.ValueOf(&y).Elem(), "target")
	decl := &Declared{File: name, Keys: map[string]DeclaredKey{}, Users: map[string]DeclaredUser{}, Lifetimes: y.Lifetimes,
		Approval: y.Approval, ApprovalCommand: y.ApprovalCommand, MaxWait: DefaultMaxWait}
	at := func(path ...string) *yaml.Node { return findNode(root, path...) }
	if len(d.problems) == 0 {
		if _, ok := y.Keys[KeyDefault]; !ok {
			d.errorf(orNode(at("keys"), root), "keys: expected a key named default (keys: {default: {value: \"${API_KEY}\"}}): the scenarios use it")
		}
		for n, k := range y.Keys {
			if k.Value == "" {
				d.errorf(orNode(at("keys", n), root), "keys.%s: expected value: \"${VARIABLE}\"", n)
			}
			decl.Keys[n] = DeclaredKey(k)
		}
		for n, u := range y.Users {
			if u.UserID == "" {
				d.errorf(orNode(at("users", n), root), "users.%s: expected userid (the real account's user name)", n)
			}
			decl.Users[n] = DeclaredUser(u)
		}
		switch decl.Approval {
		case "":
			decl.Approval = ApprovalWait
		case ApprovalWait, ApprovalPrompt:
		case ApprovalCommand:
			if decl.ApprovalCommand == "" {
				d.errorf(at("approval"), "approval: command needs approval_command: a program that approves the device whose id it gets as $1")
			}
		default:
			d.errorf(at("approval"), "approval: expected wait, command or prompt, found %q%s", decl.Approval, didYouMean(decl.Approval, []string{ApprovalWait, ApprovalCommand, ApprovalPrompt}))
		}
		if decl.ApprovalCommand != "" && decl.Approval != ApprovalCommand {
			d.errorf(at("approval_command"), "approval_command is used only with approval: command; add it or remove approval_command")
		}
		if y.DeviceKeys != nil {
			decl.DeviceKeys = []string{}
			for i, k := range *y.DeviceKeys {
				if !slices.Contains(deviceKTs, k) {
					d.errorf(at("device_keys"), "device_keys[%d]: expected ed25519, ed25519-spki, rsa or x509, found %q", i, k)
				}
				decl.DeviceKeys = append(decl.DeviceKeys, k)
			}
		}
		if y.MaxWait != nil {
			decl.MaxWait = durationOf(*y.MaxWait)
			if decl.MaxWait <= 0 {
				d.errorf(at("max_wait"), "max_wait: expected a positive duration such as 2m")
			}
		}
	}
	if len(d.problems) > 0 {
		return nil, &ValidationError{Problems: d.problems}
	}
	return &TargetFile{Server: y.Server, OAuthURL: y.OAuthURL, Declared: decl}, nil
}

func orNode(n, def *yaml.Node) *yaml.Node {
	if n != nil {
		return n
	}
	return def
}

// findNode returns the value at a path of mapping keys, or nil.
func findNode(n *yaml.Node, path ...string) *yaml.Node {
	for _, p := range path {
		n = resolve(n)
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == p {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

// checkDepth refuses a file nested deeper than maxTargetDepth, counting
// aliases as the nodes they stand for.
func checkDepth(d *decoder, n *yaml.Node, depth int) bool {
	if !d.visit(n) {
		return false
	}
	if depth > maxTargetDepth {
		d.errorf(n, "nested more than %d levels deep; a target file is flat", maxTargetDepth)
		return false
	}
	if n.Kind == yaml.AliasNode {
		return checkDepth(d, n.Alias, depth+1)
	}
	for _, c := range n.Content {
		if !checkDepth(d, c, depth+1) {
			return false
		}
	}
	return true
}

// expandEnv replaces ${VAR} in every scalar with the environment's value;
// the first unset one is reported through missing.
func expandEnv(d *decoder, n *yaml.Node, what string, getenv func(string) string, missing **MissingVarError) {
	switch n.Kind {
	case yaml.ScalarNode:
		if *missing != nil {
			return
		}
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			name := ref[2 : len(ref)-1]
			v := getenv(name)
			if v == "" && *missing == nil {
				*missing = &MissingVarError{File: d.file, Line: n.Line, Var: name, What: what}
			}
			return v
		})
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			expandEnv(d, n.Content[i+1], what+"."+n.Content[i].Value, getenv, missing)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			expandEnv(d, c, fmt.Sprintf("%s[%d]", what, i), getenv, missing)
		}
	}
}

// Secrets returns the declared values to mask in every report.
func (decl *Declared) Secrets() []string {
	if decl == nil {
		return nil
	}
	var out []string
	for _, k := range decl.Keys {
		out = append(out, k.Value)
	}
	for _, u := range decl.Users {
		out = append(out, u.Password, u.Card, u.ShortID)
	}
	return out
}
