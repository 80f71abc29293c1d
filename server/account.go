package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Account is the account description of section 7.2 of the protocol: the
// lifetimes, the API keys and the users. It mirrors the YAML file field for
// field; users carry their plaintext password here and New hashes it.
type Account struct {
	Settings Settings `yaml:"account"`
	Keys     []Key    `yaml:"keys"`
	Users    []User   `yaml:"users"`
}

// Settings are the account lifetimes (section 6), changeable at run time
// through the admin API.
type Settings struct {
	AccessTokenTTL  time.Duration `yaml:"access_token_ttl"`
	RefreshTokenTTL time.Duration `yaml:"refresh_token_ttl"`
	DeviceCodeTTL   time.Duration `yaml:"device_code_ttl"`
	RefreshGrace    time.Duration `yaml:"refresh_grace"`
}

// maxLifetime bounds every lifetime in Settings (100 years): the times the
// server computes from them must stay inside what it stores exactly (see
// instant), with the fake clock up to 100 years ahead as well.
const maxLifetime = 100 * 365 * 24 * time.Hour

// Key is one API key (section 2). JSON names (admin API) equal the YAML ones.
type Key struct {
	Name                 string   `yaml:"name" json:"name"`
	Value                string   `yaml:"value" json:"value"`
	Type                 string   `yaml:"type" json:"type"`
	Active               bool     `yaml:"active" json:"active"`
	ExpiresAt            string   `yaml:"expires_at" json:"expires_at"` // RFC 3339, "" = never
	AllowedIPs           []string `yaml:"allowed_ips" json:"allowed_ips"`
	AllowUnauthenticated bool     `yaml:"allow_unauthenticated" json:"allow_unauthenticated"`
	AllowUntrusted       bool     `yaml:"allow_untrusted" json:"allow_untrusted"`
	AutoTrust            bool     `yaml:"auto_trust" json:"auto_trust"`
	Permissions          []string `yaml:"permissions" json:"permissions"`
}

// User is one account user with every kind of credential.
type User struct {
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	FullName string `yaml:"full_name"`
	Email    string `yaml:"email"`
	CardID   string `yaml:"card_id"`
	ShortID  string `yaml:"short_id"`
	Admin    bool   `yaml:"admin"`
}

// Demo account values, exported so that the start-up banner and tests can
// name them without repeating literals.
const (
	DemoKeyName  = "default"
	DemoKeyValue = "paragon-dev-key"
)

// Function names usable in a key's permissions list (the first path segment
// after /api/v1/).
var functionNames = []string{"login", "version", "account", "users", "documents"}

var keyTypes = []string{"general", "embedded", "chrome", "edge"}

// DefaultSettings are the lifetimes of the demo account (and of the example
// in section 7.2).
func DefaultSettings() Settings {
	return Settings{
		AccessTokenTTL:  time.Hour,
		RefreshTokenTTL: 2160 * time.Hour,
		DeviceCodeTTL:   72 * time.Hour,
		RefreshGrace:    0,
	}
}

// DemoAccount returns the demo account of section 7.2: the example key and
// alice, plus bob and carol (an administrator). Each call returns a fresh copy.
func DemoAccount() *Account {
	return &Account{
		Settings: DefaultSettings(),
		Keys: []Key{{
			Name:        DemoKeyName,
			Value:       DemoKeyValue,
			Type:        "general",
			Active:      true,
			AllowedIPs:  []string{},
			Permissions: []string{},
		}},
		Users: []User{
			{Username: "alice", Password: "wonderland", FullName: "Alice Liddell", Email: "alice@example.com", CardID: "CARD-0001", ShortID: "1001"},
			{Username: "bob", Password: "builder", FullName: "Bob", Email: "bob@example.com", CardID: "CARD-0002", ShortID: "1002"},
			{Username: "carol", Password: "queen-of-hearts", FullName: "Carol", Email: "carol@example.com", CardID: "CARD-0003", ShortID: "1003", Admin: true},
		},
	}
}

// LoadAccountFile reads and checks an account file (see ParseAccount).
func LoadAccountFile(path string) (*Account, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	a, err := ParseAccount(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// ParseAccount parses the YAML account description of section 7.2. Unknown
// fields, bad durations, bad values and duplicate names are errors that name
// the line. Missing lifetimes take the defaults of DefaultSettings; a key
// without `active` is active and one without `type` is general.
func ParseAccount(data []byte) (*Account, error) {
	var raw struct {
		Settings *Settings `yaml:"account"`
		Keys     []Key     `yaml:"keys"`
		Users    []User    `yaml:"users"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("account file is empty")
		}
		return nil, fmt.Errorf("account file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("account file: %w", err)
	}
	a := &Account{Settings: DefaultSettings(), Keys: raw.Keys, Users: raw.Users}
	if raw.Settings != nil {
		// Only the fields present in the file replace the defaults.
		def := DefaultSettings()
		set := *raw.Settings
		present := mappingKeys(lookup(&doc, "account"))
		if _, ok := present["access_token_ttl"]; !ok {
			set.AccessTokenTTL = def.AccessTokenTTL
		}
		if _, ok := present["refresh_token_ttl"]; !ok {
			set.RefreshTokenTTL = def.RefreshTokenTTL
		}
		if _, ok := present["device_code_ttl"]; !ok {
			set.DeviceCodeTTL = def.DeviceCodeTTL
		}
		a.Settings = set
	}
	if err := a.Settings.validate(); err != nil {
		return nil, fmt.Errorf("line %d: %w", lineOf(lookup(&doc, "account")), err)
	}
	keyNodes := seqItems(lookup(&doc, "keys"))
	userNodes := seqItems(lookup(&doc, "users"))
	seenKey := map[string]bool{}
	seenValue := map[string]bool{}
	for i := range a.Keys {
		k := &a.Keys[i]
		line := lineOf(itemAt(keyNodes, i))
		if !mappingKeys(itemAt(keyNodes, i))["active"] {
			k.Active = true // a key is active unless the file says otherwise
		}
		if err := k.validate(); err != nil {
			return nil, fmt.Errorf("line %d: key %q: %w", line, k.Name, err)
		}
		if seenKey[k.Name] {
			return nil, fmt.Errorf("line %d: duplicate key name %q", line, k.Name)
		}
		if seenValue[k.Value] {
			return nil, fmt.Errorf("line %d: key %q: duplicate key value", line, k.Name)
		}
		seenKey[k.Name], seenValue[k.Value] = true, true
	}
	seen := map[string]map[string]bool{"username": {}, "email": {}, "card_id": {}, "short_id": {}}
	for i := range a.Users {
		u := &a.Users[i]
		line := lineOf(itemAt(userNodes, i))
		if err := validUsername(u.Username); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		for field, v := range map[string]string{"username": u.Username, "email": strings.ToLower(u.Email), "card_id": u.CardID, "short_id": u.ShortID} {
			if v == "" {
				continue
			}
			if seen[field][v] {
				return nil, fmt.Errorf("line %d: duplicate %s %q", line, field, v)
			}
			seen[field][v] = true
		}
	}
	return a, nil
}

func (s Settings) validate() error {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"access_token_ttl", s.AccessTokenTTL}, {"refresh_token_ttl", s.RefreshTokenTTL},
		{"device_code_ttl", s.DeviceCodeTTL}, {"refresh_grace", s.RefreshGrace},
	} {
		if f.d > maxLifetime {
			return fmt.Errorf("%s must be at most %s (100 years), not %s", f.name, maxLifetime, f.d)
		}
	}
	switch {
	case s.AccessTokenTTL <= 0:
		return errors.New("access_token_ttl must be positive")
	case s.RefreshTokenTTL <= 0:
		return errors.New("refresh_token_ttl must be positive")
	case s.DeviceCodeTTL <= 0:
		return errors.New("device_code_ttl must be positive")
	case s.RefreshGrace < 0:
		return errors.New("refresh_grace must not be negative")
	}
	return nil
}

func (k *Key) validate() error {
	if k.Name == "" {
		return errors.New("name is empty")
	}
	if k.Value == "" {
		return errors.New("value is empty")
	}
	if k.Type == "" {
		k.Type = "general"
	}
	if !contains(keyTypes, k.Type) {
		return fmt.Errorf("type %q is not one of %s", k.Type, strings.Join(keyTypes, ", "))
	}
	if k.ExpiresAt != "" {
		if _, err := time.Parse(time.RFC3339, k.ExpiresAt); err != nil {
			return fmt.Errorf("expires_at %q is not RFC 3339", k.ExpiresAt)
		}
	}
	for _, ip := range k.AllowedIPs {
		if _, err := parsePrefix(ip); err != nil {
			return fmt.Errorf("allowed_ips: %q is not a CIDR or IP address", ip)
		}
	}
	for _, p := range k.Permissions {
		if !contains(functionNames, p) {
			return fmt.Errorf("permissions: %q is not one of %s", p, strings.Join(functionNames, ", "))
		}
	}
	if k.AllowedIPs == nil {
		k.AllowedIPs = []string{}
	}
	if k.Permissions == nil {
		k.Permissions = []string{}
	}
	return nil
}

func validUsername(name string) error {
	if name == "" {
		return errors.New("username is empty")
	}
	if !printable(name) {
		return fmt.Errorf("username %q %w", name, errNotPrintable)
	}
	if len(name) > 128 || strings.ContainsAny(name, "/?#%") {
		return fmt.Errorf("username %q has a forbidden character or is too long", name)
	}
	return nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// lookup returns the value node of a top-level mapping key, or nil.
func lookup(doc *yaml.Node, key string) *yaml.Node {
	if doc == nil || len(doc.Content) == 0 {
		return nil
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func mappingKeys(n *yaml.Node) map[string]bool {
	out := map[string]bool{}
	if n == nil || n.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		out[n.Content[i].Value] = true
	}
	return out
}

func seqItems(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

func itemAt(items []*yaml.Node, i int) *yaml.Node {
	if i < len(items) {
		return items[i]
	}
	return nil
}

func lineOf(n *yaml.Node) int {
	if n == nil {
		return 1
	}
	return n.Line
}

// clone returns a deep copy of the account.
func (a *Account) clone() *Account {
	c := &Account{Settings: a.Settings}
	for _, k := range a.Keys {
		c.Keys = append(c.Keys, k.clone())
	}
	c.Users = append([]User(nil), a.Users...)
	return c
}

func (k Key) clone() Key {
	k.AllowedIPs = append([]string{}, k.AllowedIPs...)
	k.Permissions = append([]string{}, k.Permissions...)
	return k
}
