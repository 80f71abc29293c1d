package scenarios

import "time"

// Severity values of a scenario header.
const (
	SeverityFailure = "failure" // the rule is the vendor's: breaking it fails the scenario
	SeverityWarning = "warning" // the rule is the project's choice: breaking it only warns
)

// Capabilities a scenario may need from its target (the header's needs).
const (
	NeedAdmin     = "admin"      // the reference server's admin API (section 7.3)
	NeedClock     = "clock"      // its fake clock (POST /admin/api/clock)
	NeedDeviceKey = "device-key" // a device that registers a public key and signs
	NeedSecondKey = "second-key" // a second active API key of the same account (${second_api_key})
)

// Scenario is one compliance scenario: a header naming the rule it checks and
// the steps that check it. Scenarios are read by Builtin and LoadPaths and are
// not changed by Run, so one list may be run several times, concurrently.
type Scenario struct {
	Name        string   // unique within a run; used by --name and for sharding
	Description string   // one or two sentences for people
	Rule        string   // the contract section or vendor sentence it checks
	Severity    string   // SeverityFailure (default) or SeverityWarning
	Needs       []string // NeedAdmin, NeedClock, NeedDeviceKey
	Tags        []string // free words for --tag
	Given       *Given   // switches and lifetimes set before the first step
	Steps       []*Step
	// Hooks is the setup and teardown of the scenario's file, shared by
	// every scenario of that file; nil when the file has none.
	Hooks *FileHooks

	File   string // where it was read from ("builtin:<file>" for the embedded suite)
	Line   int    // line of the document's first key
	Column int
}

// Given is what a scenario sets through the admin API before its first step.
type Given struct {
	Keys     map[string]*KeyPatch // key name → fields to change ("key:" patches "default")
	Settings *SettingsPatch
}

// Step is one action and what is expected of the answer.
type Step struct {
	Name    string    // optional; reports use the action and its main argument otherwise ("call GET /users")
	Kind    string    // the action's key in the YAML: "register", "login", "call", ...
	Action  action    // the decoded action
	Expect  *Expect   // nil: a 2xx status is expected
	Capture []Capture // values saved into variables after the expectations held
	// Repeat sends the action this many times (0 or 1: once), each answer
	// checked against Expect, the last against ExpectLast when given.
	Repeat     int
	ExpectLast *Expect
	Retry      *Retry // try again until Retry.Until holds
	// Concurrently > 1 sends the step's request that many times at the same
	// instant (refresh with keep, or call); each answer must meet Expect.
	Concurrently int
	Line         int
	Column       int
	index        int // 1-based position in the scenario
}

// Expect lists what a step's final HTTP answer must satisfy. Without Status
// the answer must be 2xx.
type Expect struct {
	Status      []int        // one of these
	Headers     []FieldCheck // header name → checks
	JSON        []FieldCheck // JSON path → checks
	Body        *Check       // the raw body
	MaxDuration time.Duration
	// Successes, with a step's concurrently, is how many of its answers
	// must be 2xx (nil: not checked).
	Successes *int
}

// FieldCheck is a check on one header or JSON path.
type FieldCheck struct {
	Field string
	Check Check
	Line  int
	path  *jsonPath // Field compiled, for expect.json
}

// Capture saves one value of a step's answer into a variable for later
// steps (${name}).
type Capture struct {
	Var    string
	From   string // "json", "header", "status" or "body"
	Path   string // JSON path or header name
	Line   int
	Column int
	path   *jsonPath // Path compiled, for json
}

// KeyPatch changes fields of an API key through PATCH /admin/api/keys/{name}.
// Nil fields stay as they are.
type KeyPatch struct {
	Active               *bool     `yaml:"active" json:"active,omitempty"`
	ExpiresAt            *string   `yaml:"expires_at" json:"expires_at,omitempty"` // RFC 3339, "" never
	AllowedIPs           *[]string `yaml:"allowed_ips" json:"allowed_ips,omitempty"`
	AllowUnauthenticated *bool     `yaml:"allow_unauthenticated" json:"allow_unauthenticated,omitempty"`
	AllowUntrusted       *bool     `yaml:"allow_untrusted" json:"allow_untrusted,omitempty"`
	AutoTrust            *bool     `yaml:"auto_trust" json:"auto_trust,omitempty"`
	Permissions          *[]string `yaml:"permissions" json:"permissions,omitempty"`
}

// SettingsPatch changes account lifetimes through PATCH /admin/api/settings
// (Go duration strings). Nil fields stay as they are.
type SettingsPatch struct {
	AccessTokenTTL  *Duration `yaml:"access_token_ttl" json:"access_token_ttl,omitempty"`
	RefreshTokenTTL *Duration `yaml:"refresh_token_ttl" json:"refresh_token_ttl,omitempty"`
	DeviceCodeTTL   *Duration `yaml:"device_code_ttl" json:"device_code_ttl,omitempty"`
	RefreshGrace    *Duration `yaml:"refresh_grace" json:"refresh_grace,omitempty"`
}

// Duration is a Go duration written as a string ("61m", "2160h").
type Duration time.Duration

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}
