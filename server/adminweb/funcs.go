package adminweb

import (
	"fmt"
	"html/template"
	"net/url"
	"time"
)

// funcs are the helpers the templates use.
var funcs = template.FuncMap{
	// pathEscape makes a client id or name safe as one path segment.
	"pathEscape": url.PathEscape,
	// when is a time as the page shows it.
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	// machine is a time for a <time datetime> attribute.
	"machine": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	// ago is how long before now t was, roughly.
	"ago": func(now, t time.Time) string { return roughAge(now.Sub(t)) },
	// deviceTable is the data of one device table: "pending", "trusted" or
	// "refused".
	"deviceTable": func(id string, devs []Device, d adminData) deviceTable {
		return deviceTable{ID: id, Devices: devs, CSRF: d.CSRF, Now: d.Now, Actions: id != "refused"}
	},
}

// deviceTable is what the "devices" template shows.
type deviceTable struct {
	ID      string
	Devices []Device
	CSRF    string
	Now     time.Time
	Actions bool
}

// roughAge formats an age for people: "just now", "5 min ago", "3 h ago",
// "2 days ago".
func roughAge(d time.Duration) string {
	switch {
	case d < 0:
		return "in the future"
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	default:
		return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
	}
}
