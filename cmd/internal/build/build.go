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
	// A `go install module@version` build carries its module version.
	if Version == "dev" {
		if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
			Version = info.Main.Version
		}
	}
}
