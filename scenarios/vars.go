package scenarios

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Variables: ${name} in any string of a step or its expectations is, in
// order, a value captured by an earlier step, a built-in variable, a field
// of a device or session (${printer.access_token}), a variable given to the
// run (--var, then --vars-file; varsfile.go) or an upper-case environment
// variable. This file is the one place that knows them: the
// validator checks references against the same tables the runner resolves
// them with.

var varRef = regexp.MustCompile(`\$\{([^}]*)\}`)

// builtinVar is a variable every scenario has.
type builtinVar struct {
	value func(t *target) string
	need  string // the capability that provides it, if any
}

var builtinVars = map[string]builtinVar{
	"api_key":        {value: func(t *target) string { return t.apiKey }},
	"second_api_key": {value: func(t *target) string { return t.secondKey }, need: NeedSecondKey},
	"admin_token":    {value: func(t *target) string { return t.adminToken }, need: NeedAdmin},
	"base_url":       {value: func(t *target) string { return t.base }},
	"oauth_url":      {value: func(t *target) string { return t.oauth }},
	"admin_url":      {value: func(t *target) string { return t.admin }, need: NeedAdmin},
}

// deviceVars and sessionVars are the fields of ${<device>.<field>} and
// ${<session>.<field>}.
var (
	deviceVars = map[string]func(*deviceState) string{
		"client_id":     func(d *deviceState) string { return d.clientID },
		"device_code":   func(d *deviceState) string { return d.deviceCode },
		"access_token":  func(d *deviceState) string { return d.accessToken },
		"refresh_token": func(d *deviceState) string { return d.refreshToken },
	}
	// userVars are the fields of ${alice.userid}: a demo user's, or the
	// real account a target file maps the user to
	userVars = map[string]func(u demoUser, userid string) string{
		"userid":   func(_ demoUser, id string) string { return id },
		"email":    func(u demoUser, _ string) string { return u.email },
		"card":     func(u demoUser, _ string) string { return u.card },
		"short_id": func(u demoUser, _ string) string { return u.shortID },
	}
	sessionVars = map[string]func(*session) string{
		"access_token":  func(s *session) string { return s.accessToken },
		"refresh_token": func(s *session) string { return s.refreshToken },
	}
)

func isBuiltinVar(name string) bool {
	_, ok := builtinVars[name]
	return ok
}

// checkVars reports ${name} references that cannot resolve: lower-case names
// must be captured by an earlier step or be built in; upper-case names are
// environment variables, checked when the scenario runs.
func (d *decoder) checkVars(n *yaml.Node, vars map[string]bool) {
	n = resolve(n)
	if n == nil || !d.visit(n) {
		return
	}
	if n.Kind == yaml.ScalarNode {
		for _, m := range varRef.FindAllStringSubmatch(n.Value, -1) {
			name := m[1]
			if isBuiltinVar(name) && d.used[name] == nil {
				d.used[name] = n
			}
			switch {
			case isEnvName(name), isBuiltinVar(name), vars[name], d.ext[name]:
			case strings.Contains(name, "."):
				// <device>.client_id, <session>.access_token: a device or session an earlier step names
				obj, field, _ := strings.Cut(name, ".")
				if _, user := demoUsers[obj]; user && userVars[field] != nil {
					break
				}
				if deviceVars[field] == nil && sessionVars[field] == nil {
					d.errorf(n, "${%s}: expected <device>.%s or <session>.%s", name, strings.Join(sortedKeys(deviceVars), "|"), strings.Join(sortedKeys(sessionVars), "|"))
				} else if err := checkKnown(name, vars); err != nil {
					d.errorf(n, "%v", err)
				}
			default:
				d.errorf(n, "${%s}: not captured by an earlier step; expected a capture, a built-in variable (%s), a variable given with --var or --vars-file, or an upper-case environment variable", name, strings.Join(sortedKeys(builtinVars), ", "))
			}
		}
		return
	}
	for _, c := range n.Content {
		d.checkVars(c, vars)
	}
}

func isEnvName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return s[0] < '0' || s[0] > '9'
}

// lookupVar resolves ${name}: a captured value keeps its JSON type (a
// number, an object, ...); every other variable is a string.
func (r *scenarioRun) lookupVar(name string) (any, error) {
	if v, ok := r.vars[name]; ok {
		return v, nil
	}
	if name == iterationVar && r.iteration > 0 {
		return json.Number(strconv.Itoa(r.iteration)), nil
	}
	if b, ok := builtinVars[name]; ok {
		return b.value(r.t), nil
	}
	if obj, field, ok := strings.Cut(name, "."); ok {
		if _, user := demoUsers[obj]; user && userVars[field] != nil {
			du, userid := r.user(obj)
			return userVars[field](du, userid), nil
		}
		if d, ok := r.devices[obj]; ok && deviceVars[field] != nil {
			return deviceVars[field](d), nil
		}
		if s, ok := r.sessions[obj]; ok && sessionVars[field] != nil {
			return sessionVars[field](s), nil
		}
		return "", fmt.Errorf("${%s}: no device or session %q with %s", name, obj, field)
	}
	if v, ok := r.t.vars[name]; ok {
		return v.Value, nil
	}
	if isEnvName(name) {
		v, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("${%s}: the environment variable %s is not set", name, name)
		}
		r.maskIfSecret(name, v)
		return v, nil
	}
	return "", fmt.Errorf("${%s}: no such variable", name)
}

// expand replaces every ${name} in s by the variable's text (a captured
// number as written in JSON, an object as compact JSON).
func (r *scenarioRun) expand(s string) (string, error) {
	var firstErr error
	out := varRef.ReplaceAllStringFunc(s, func(m string) string {
		v, err := r.lookupVar(m[2 : len(m)-1])
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return asText(v)
	})
	return out, firstErr
}

// expandTyped resolves s as a value: a string that is exactly one ${name}
// takes the variable's value with its JSON type, so that a captured 3600
// equals 3600 and a captured object equals the same object; any other
// string is expanded as text.
func (r *scenarioRun) expandTyped(s string) (any, error) {
	if m := varRef.FindStringSubmatchIndex(s); m != nil && m[0] == 0 && m[1] == len(s) {
		return r.lookupVar(s[2 : len(s)-1])
	}
	return r.expand(s)
}

// expandAll returns a deep copy of v (a pointer to an action) with every
// string expanded; the original, shared between runs, is untouched.
func (r *scenarioRun) expandAll(v any) (any, error) {
	out, err := expandValue(reflect.ValueOf(v), r.expandTyped)
	if err != nil {
		return nil, err
	}
	return out.Interface(), nil
}

// expandValue copies v with expand applied to every string in it. A string
// held in an interface (a value of an http step's json body) takes the
// typed value expand returns; a string field takes its text.
func expandValue(v reflect.Value, expand expandFunc) (reflect.Value, error) {
	switch v.Kind() {
	case reflect.String:
		x, err := expand(v.String())
		return reflect.ValueOf(asText(x)).Convert(v.Type()), err
	case reflect.Pointer:
		if v.IsNil() {
			return v, nil
		}
		e, err := expandValue(v.Elem(), expand)
		if err != nil {
			return v, err
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(e)
		return p, nil
	case reflect.Struct:
		c := reflect.New(v.Type()).Elem()
		c.Set(v)
		for i := 0; i < v.NumField(); i++ {
			if !v.Type().Field(i).IsExported() {
				continue
			}
			f, err := expandValue(v.Field(i), expand)
			if err != nil {
				return v, err
			}
			c.Field(i).Set(f)
		}
		return c, nil
	case reflect.Slice:
		if v.IsNil() {
			return v, nil
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			e, err := expandValue(v.Index(i), expand)
			if err != nil {
				return v, err
			}
			c.Index(i).Set(e)
		}
		return c, nil
	case reflect.Map:
		if v.IsNil() {
			return v, nil
		}
		c := reflect.MakeMapWithSize(v.Type(), v.Len())
		it := v.MapRange()
		for it.Next() {
			e, err := expandValue(it.Value(), expand)
			if err != nil {
				return v, err
			}
			c.SetMapIndex(it.Key(), e)
		}
		return c, nil
	case reflect.Interface:
		if v.IsNil() {
			return v, nil
		}
		if v.Elem().Kind() == reflect.String {
			x, err := expand(v.Elem().String())
			c := reflect.New(v.Type()).Elem()
			if x != nil {
				c.Set(reflect.ValueOf(x))
			}
			return c, err
		}
		e, err := expandValue(v.Elem(), expand)
		if err != nil {
			return v, err
		}
		c := reflect.New(v.Type()).Elem()
		c.Set(e)
		return c, nil
	}
	return v, nil
}
