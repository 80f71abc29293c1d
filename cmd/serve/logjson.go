package serve

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// jsonLogHandler is slog's JSON handler (default options) with a shorter
// way for the records that make up nearly all of the log, the request
// lines: a record whose attributes are all strings, integers, booleans or
// durations, without groups, is written by hand, byte for byte what
// slog.JSONHandler writes for it (TestJSONLogHandlerSameAsSlog,
// FuzzJSONLogHandler). slog's general machinery (attribute resolution,
// ReplaceAttr and group bookkeeping, a recover around every value) costed
// about as much as the rest of an authorized call's handler
// (docs/performance.md). Every other record, and every logger derived with
// With or WithGroup, goes to slog.JSONHandler.
//
// Each line reaches w in one Write, as with slog's handler; w must keep
// concurrent lines apart (logWriter does; so does a file or pipe for lines
// this short).
type jsonLogHandler struct {
	*slog.JSONHandler
	w io.Writer
}

func newJSONLogHandler(w io.Writer) jsonLogHandler {
	return jsonLogHandler{JSONHandler: slog.NewJSONHandler(w, nil), w: w}
}

// jsonLines are the buffers lines are built in.
var jsonLines = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

func (h jsonLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if !plainRecord(r) {
		return h.JSONHandler.Handle(ctx, r)
	}
	bp := jsonLines.Get().(*[]byte)
	b := append((*bp)[:0], '{')
	if !r.Time.IsZero() {
		b = append(b, `"time":"`...)
		b = r.Time.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `",`...)
	}
	b = append(b, `"level":`...)
	b = appendJSONString(b, r.Level.String())
	b = append(b, `,"msg":`...)
	b = appendJSONString(b, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b = append(b, ',')
		b = appendJSONString(b, a.Key)
		b = append(b, ':')
		switch v := a.Value; v.Kind() {
		case slog.KindString:
			b = appendJSONString(b, v.String())
		case slog.KindInt64:
			b = strconv.AppendInt(b, v.Int64(), 10)
		case slog.KindUint64:
			b = strconv.AppendUint(b, v.Uint64(), 10)
		case slog.KindBool:
			b = strconv.AppendBool(b, v.Bool())
		case slog.KindDuration:
			b = strconv.AppendInt(b, int64(v.Duration()), 10)
		}
		return true
	})
	b = append(b, "}\n"...)
	_, err := h.w.Write(b)
	if cap(b) <= 4<<10 { // a long line's buffer is not kept
		*bp = b
		jsonLines.Put(bp)
	}
	return err
}

// plainRecord reports whether jsonLogHandler writes r itself: a time
// RFC 3339 can show (slog writes an error for the others), and attributes
// with a key, each a string, integer, boolean or duration.
func plainRecord(r slog.Record) bool {
	if y := r.Time.Year(); !r.Time.IsZero() && (y < 0 || y >= 10000) {
		return false
	}
	plain := true
	r.Attrs(func(a slog.Attr) bool {
		switch a.Value.Kind() {
		case slog.KindString, slog.KindInt64, slog.KindUint64, slog.KindBool, slog.KindDuration:
			plain = a.Key != ""
		default:
			plain = false
		}
		return plain
	})
	return plain
}

// appendJSONString appends s as a JSON string the way slog's JSON handler
// writes it: control characters, quote and backslash escaped, invalid UTF-8
// as \ufffd, U+2028 and U+2029 escaped, nothing else (no HTML escaping).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
