// Package build holds the version information stamped into the binary at
// link time, e.g.
//
//	go build -ldflags "-X github.com/paragon-cli/paragon/cmd/internal/build.Version=1.2.3"
package build

import "runtime/debug"

// Stamped through -ldflags by the release build; "dev" and "unknown" otherwise.
var (
	Version = "dev"
	Commit  = "unknown"
	Date    = "unknown"
)

func init() {
	if info, ok := debug.ReadBuildInfo(); ok {
		Version, Commit, Date = fromBuildInfo(info, Version, Commit, Date)
	}
}

// fromBuildInfo fills what -ldflags did not stamp from what the go command
// recorded: the module version of a `go install module@version` build, and
// the commit of a `go build` in a git checkout (vcs.revision; "-dirty" when
// there were uncommitted changes). The date stays the build date, which only
// the release build knows.
func fromBuildInfo(info *debug.BuildInfo, version, commit, date string) (string, string, string) {
	if version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		version = info.Main.Version
	}
	if commit != "unknown" {
		return version, commit, date
	}
	var rev string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return version, commit, date
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return version, rev, date
}
