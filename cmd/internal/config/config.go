// Package config reads and writes paragon's non-secret settings: the named
// profiles (server URLs, which secret store holds their secrets) and the
// profile in use. The file is YAML at os.UserConfigDir()/paragon/config.yml.
// Secrets never go here; they live in package keystore.
//
// A Config is not safe for concurrent use; each paragon process loads it,
// changes it and saves it whole (atomically, by rename).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// DefaultProfile is the profile used when none is named.
const DefaultProfile = "default"

// EnvProfile names the environment variable that selects a profile.
const EnvProfile = "PARAGON_PROFILE"

// FileName is the config file's name inside Dir().
const FileName = "config.yml"

// Profile is one server and account as the CLI knows it. Only non-secret
// settings: the API key, device key and tokens are in the keystore.
type Profile struct {
	// Server is the base URL of the public API (…/api/v1 lives under it).
	Server string `yaml:"server"`
	// OAuthURL is the base URL of the OAuth service; empty means Server.
	OAuthURL string `yaml:"oauth_url,omitempty"`
	// Keystore names the secret store holding this profile's secrets
	// ("keyring" or "file"), recorded when they were first stored so that
	// later commands read them from the same place.
	Keystore string `yaml:"keystore,omitempty"`
	// KeystoreFallback is true when Keystore is "file" only because no OS
	// keyring was usable (not by choice): paragon then warns whenever it
	// stores a secret there.
	KeystoreFallback bool `yaml:"keystore_fallback,omitempty"`
	// DeviceType is the client_type the device registered with.
	DeviceType string `yaml:"device_type,omitempty"`
	// CACert is a PEM file of extra CAs trusted for this profile's servers,
	// recorded from --cacert by device register and login.
	CACert string `yaml:"cacert,omitempty"`
}

// OAuthBase returns OAuthURL, or Server when it is empty.
func (p *Profile) OAuthBase() string {
	if p.OAuthURL != "" {
		return p.OAuthURL
	}
	return p.Server
}

// Config is the whole file: the profile in use and every profile by name.
type Config struct {
	// Current is the profile `paragon profile use` selected; empty means
	// DefaultProfile.
	Current string `yaml:"current_profile,omitempty"`
	// Profiles maps names to profiles.
	Profiles map[string]*Profile `yaml:"profiles,omitempty"`

	path string
}

// Dir returns os.UserConfigDir()/paragon, where paragon keeps its files.
func Dir() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the configuration directory: %w", err)
	}
	return filepath.Join(d, "paragon"), nil
}

// DefaultPath returns Dir()/config.yml.
func DefaultPath() (string, error) {
	d, err := Dir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, FileName), nil
}

// Load reads the config at path. A missing file is an empty config; a file
// that is not valid YAML for Config is an error naming the file and line.
func Load(path string) (*Config, error) {
	c := &Config{path: path, Profiles: map[string]*Profile{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config file %s is invalid: %v (fix or delete it)", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if c.Profiles == nil {
		c.Profiles = map[string]*Profile{}
	}
	for name, p := range c.Profiles {
		if err := ValidName(name); err != nil {
			return nil, fmt.Errorf("config file %s: %w", path, err)
		}
		if p == nil {
			c.Profiles[name] = &Profile{}
		}
	}
	return c, nil
}

// Path returns the file this config is read from and saved to.
func (c *Config) Path() string { return c.path }

// Save writes the config atomically (temporary file, then rename), creating
// the directory with mode 0700 and the file with mode 0600.
func (c *Config) Save() error {
	if c.path == "" {
		return errors.New("config: no file to save to")
	}
	b, err := yaml.Marshal(c)
	if err != nil {
		return fmt.Errorf("encoding config: %w", err)
	}
	dir := filepath.Dir(c.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".config-*.yml")
	if err != nil {
		return fmt.Errorf("writing config: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("writing config: %w", err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("writing config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing config: %w", err)
	}
	if err := os.Rename(tmp.Name(), c.path); err != nil {
		return fmt.Errorf("writing config: %w", err)
	}
	return nil
}

// Profile returns the named profile, or false when it does not exist.
func (c *Config) Profile(name string) (*Profile, bool) {
	p, ok := c.Profiles[name]
	return p, ok
}

// Names returns the profile names, sorted.
func (c *Config) Names() []string {
	names := make([]string, 0, len(c.Profiles))
	for n := range c.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// SetProfile creates or replaces a profile.
func (c *Config) SetProfile(name string, p *Profile) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if c.Profiles == nil {
		c.Profiles = map[string]*Profile{}
	}
	c.Profiles[name] = p
	return nil
}

// RemoveProfile deletes a profile; the current profile falls back to the
// default when it was the one removed.
func (c *Config) RemoveProfile(name string) {
	delete(c.Profiles, name)
	if c.Current == name {
		c.Current = ""
	}
}

// CurrentProfile returns the selected profile name: Current, or
// DefaultProfile.
func (c *Config) CurrentProfile() string {
	if c.Current != "" {
		return c.Current
	}
	return DefaultProfile
}

// ValidName checks a profile name: 1-64 characters of [A-Za-z0-9._-], not
// starting with a dot or a dash (names become keyring service names).
func ValidName(name string) error {
	bad := name == "" || len(name) > 64 || name[0] == '.' || name[0] == '-'
	for i := 0; i < len(name) && !bad; i++ {
		c := name[i]
		bad = !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-')
	}
	if bad {
		return fmt.Errorf("invalid profile name %q: use 1-64 letters, digits, '.', '_' or '-'", name)
	}
	return nil
}
