package serve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// logBoth writes r through slog.JSONHandler and through jsonLogHandler (or
// a logger derived from each by derive) and returns both lines.
func logBoth(t testing.TB, r slog.Record, derive func(slog.Handler) slog.Handler) (want, got string) {
	t.Helper()
	var ws, gs bytes.Buffer
	var wh, gh slog.Handler = slog.NewJSONHandler(&ws, nil), newJSONLogHandler(&gs)
	if derive != nil {
		wh, gh = derive(wh), derive(gh)
	}
	if err := wh.Handle(context.Background(), r.Clone()); err != nil {
		t.Fatal(err)
	}
	if err := gh.Handle(context.Background(), r.Clone()); err != nil {
		t.Fatal(err)
	}
	return ws.String(), gs.String()
}

type logValuer struct{}

func (logValuer) LogValue() slog.Value { return slog.StringValue("resolved") }

// TestJSONLogHandlerSameAsSlog: every line jsonLogHandler writes is the one
// slog's JSON handler writes, for the request line, for strings that need
// escaping, and for the records it leaves to slog (other kinds, groups, a
// year RFC 3339 cannot show, derived loggers).
func TestJSONLogHandlerSameAsSlog(t *testing.T) {
	at := time.Date(2026, 12, 6, 7, 30, 1, 234567000, time.FixedZone("", 3600))
	req := func(path string) slog.Record {
		r := slog.NewRecord(at, slog.LevelInfo, "request", 0)
		r.AddAttrs(slog.String("method", "GET"), slog.String("path", path), slog.Int("status", 200), slog.Duration("duration", 12345*time.Nanosecond))
		return r
	}
	records := map[string]slog.Record{
		"request":       req("/api/v1/version"),
		"escapes":       req("/a\"b\\c\n\r\t\x00\x1f\x7f<>&é\u2028\u2029\xff\xc3(😀"),
		"empty path":    req(""),
		"no time":       slog.NewRecord(time.Time{}, slog.LevelInfo, "request", 0),
		"warn+2":        slog.NewRecord(at, slog.LevelWarn+2, "m\"sg", 0),
		"whole second":  slog.NewRecord(at.Truncate(time.Second).UTC(), slog.LevelError, "", 0),
		"year 10000":    slog.NewRecord(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), slog.LevelInfo, "far", 0),
		"year -1":       slog.NewRecord(time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), slog.LevelInfo, "past", 0),
		"monotonic":     slog.NewRecord(time.Now(), slog.LevelInfo, "now", 0),
		"other kinds":   slog.NewRecord(at, slog.LevelInfo, "kinds", 0),
		"empty key":     slog.NewRecord(at, slog.LevelInfo, "empty key", 0),
		"group":         slog.NewRecord(at, slog.LevelInfo, "group", 0),
		"log valuer":    slog.NewRecord(at, slog.LevelInfo, "valuer", 0),
		"escaped key":   slog.NewRecord(at, slog.LevelInfo, "key", 0),
		"uint and bool": slog.NewRecord(at, slog.LevelDebug, "ub", 0),
	}
	add := func(name string, attrs ...slog.Attr) {
		r := records[name]
		r.AddAttrs(attrs...)
		records[name] = r
	}
	add("other kinds", slog.Float64("f", 1.5), slog.Time("t", at), slog.Any("err", errors.New("boom")), slog.Any("m", map[string]int{"a": 1}))
	add("empty key", slog.String("", "x"), slog.Int("n", 1))
	add("group", slog.Group("g", slog.String("a", "b")))
	add("log valuer", slog.Any("v", logValuer{}))
	add("escaped key", slog.String("k\"ey\n", "v"))
	add("uint and bool", slog.Uint64("u", 1<<63), slog.Bool("t", true), slog.Bool("f", false), slog.Int64("neg", -5), slog.Duration("d", -time.Hour))
	for name, r := range records {
		want, got := logBoth(t, r, nil)
		if got != want {
			t.Errorf("%s:\nslog: %s\nours: %s", name, want, got)
		}
	}
	for name, derive := range map[string]func(slog.Handler) slog.Handler{
		"with":  func(h slog.Handler) slog.Handler { return h.WithAttrs([]slog.Attr{slog.String("a", "b")}) },
		"group": func(h slog.Handler) slog.Handler { return h.WithGroup("g") },
	} {
		want, got := logBoth(t, req("/x"), derive)
		if got != want {
			t.Errorf("%s:\nslog: %s\nours: %s", name, want, got)
		}
	}
}

// TestJSONLogHandlerLevel: the handler logs what slog's default JSON
// handler logs (INFO and above).
func TestJSONLogHandlerLevel(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(newJSONLogHandler(&buf))
	l.Debug("hidden")
	l.Info("shown", "n", 1)
	if got := buf.String(); strings.Contains(got, "hidden") || !strings.Contains(got, `"msg":"shown","n":1}`) {
		t.Errorf("log: %s", got)
	}
}

// FuzzJSONLogHandler: for any strings, numbers and times, the request line
// jsonLogHandler writes is the one slog's JSON handler writes.
func FuzzJSONLogHandler(f *testing.F) {
	f.Add("request", "path", "/api/v1/version", int64(200), int64(12345), int64(1765000000123456789), 3600, uint64(7), true)
	f.Add("\u2028", "k\"", "\xff\x00é\\", int64(-1), int64(-1), int64(0), -7200, uint64(1<<63), false)
	f.Add("", "", "", int64(0), int64(0), int64(-62135596800000000), 0, uint64(0), false)
	f.Fuzz(func(t *testing.T, msg, key, s string, n, d, unixNano int64, offset int, u uint64, b bool) {
		at := time.Unix(0, unixNano).In(time.FixedZone("", offset%(18*3600)))
		r := slog.NewRecord(at, slog.LevelInfo, msg, 0)
		r.AddAttrs(slog.String(key, s), slog.Int64("n", n), slog.Duration("d", time.Duration(d)), slog.Uint64("u", u), slog.Bool("b", b))
		want, got := logBoth(t, r, nil)
		if got != want {
			t.Errorf("\nslog: %s\nours: %s", want, got)
		}
	})
}

// BenchmarkRequestLogLine: the request line through slog's JSON handler and
// through jsonLogHandler.
func BenchmarkRequestLogLine(b *testing.B) {
	for _, c := range []struct {
		name string
		h    slog.Handler
	}{{"slog", slog.NewJSONHandler(io.Discard, nil)}, {"jsonLogHandler", newJSONLogHandler(io.Discard)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
				r.AddAttrs(slog.String("method", "GET"), slog.String("path", "/api/v1/version"), slog.Int("status", 200), slog.Duration("duration", 12345))
				_ = c.h.Handle(context.Background(), r)
			}
		})
	}
}
