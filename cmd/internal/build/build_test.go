package build

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-12-06T04:00:00Z"},
		{Key: "vcs.modified", Value: "false"},
	}
	dirty := append(append([]debug.BuildSetting(nil), vcs[:3]...), debug.BuildSetting{Key: "vcs.modified", Value: "true"})
	tests := []struct {
		name     string
		info     debug.BuildInfo
		in, want [3]string
	}{
		{"go build in a checkout", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs},
			[3]string{"dev", "unknown", "unknown"}, [3]string{"dev", "0123456789ab", "unknown"}},
		{"uncommitted changes", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: dirty},
			[3]string{"dev", "unknown", "unknown"}, [3]string{"dev", "0123456789ab-dirty", "unknown"}},
		{"go install module@version", debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}},
			[3]string{"dev", "unknown", "unknown"}, [3]string{"v1.2.3", "unknown", "unknown"}},
		{"release build: the stamp wins", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs},
			[3]string{"1.0.0", "fedcba987654", "2026-01-01"}, [3]string{"1.0.0", "fedcba987654", "2026-01-01"}},
		{"no vcs information (-buildvcs=false)", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			[3]string{"dev", "unknown", "unknown"}, [3]string{"dev", "unknown", "unknown"}},
	}
	for _, tt := range tests {
		v, c, d := fromBuildInfo(&tt.info, tt.in[0], tt.in[1], tt.in[2])
		if got := [3]string{v, c, d}; got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
