package scenarios

import (
	"fmt"
	"strings"
)

// The validator knows which devices and sessions exist at each step, so
// that ${alice.access_token} before alice logs in is refused with its place
// instead of failing when the scenario runs. Devices come to exist when a
// step names them (register, approve, device_token, ...); a session when a
// login names it (its as, else its user or userid).

// knownKey is how the validator's variable table marks a device or session
// name (capture names cannot start with @).
func knownKey(name string) string { return "@" + name }

// noteNames adds the devices and sessions a step's action names to vars.
func noteNames(a action, vars map[string]bool) {
	add := func(names ...string) {
		for _, n := range names {
			if n != "" && !strings.Contains(n, "${") {
				vars[knownKey(n)] = true
			}
		}
	}
	switch x := a.(type) {
	case *registerAction:
		add(alias(x.Device))
	case *deviceAdminAction:
		add(alias(x.Device))
	case *deviceTokenAction:
		add(alias(x.Device))
	case *refreshAction:
		add(x.Device)
	case *revokeAction:
		add(x.Device)
	case *httpAction:
		add(x.SignAs)
	case *loginAction:
		switch x.Device {
		case "", "auto", "none", "wrong":
		default:
			add(x.Device)
		}
		switch {
		case x.As != "":
			add(x.As)
		case x.User != "":
			add(x.User)
		case x.UserID != nil:
			add(*x.UserID)
		}
	}
}

// checkKnown reports ${obj.field} when no earlier step names obj.
func checkKnown(name string, vars map[string]bool) error {
	obj, _, _ := strings.Cut(name, ".")
	if vars[knownKey(obj)] {
		return nil
	}
	return fmt.Errorf("${%s}: no earlier step logs %s in or registers a device %s; add one before (login: {user: ..., as: %s} or register: %s)", name, obj, obj, obj, obj)
}
