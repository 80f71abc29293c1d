// Package jsoncolor pretty-prints JSON for a terminal: indented, with keys,
// strings, numbers and literals styled by an iostreams.ColorScheme. Key order
// and number spelling are kept exactly as in the input.
package jsoncolor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
)

// Write reads one or more JSON values from r and writes them to w indented
// by indent, one per line, styled with cs (which may have colour off).
func Write(w io.Writer, r io.Reader, indent string, cs *iostreams.ColorScheme) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var out bytes.Buffer
	type frame struct {
		array bool
		n     int // values written at this level
	}
	var stack []frame
	expectKey := func() bool { return len(stack) > 0 && !stack[len(stack)-1].array && stack[len(stack)-1].n%2 == 0 }
	newline := func() {
		out.WriteByte('\n')
		out.WriteString(strings.Repeat(indent, len(stack)))
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if len(stack) > 0 {
				return fmt.Errorf("invalid JSON: %w", io.ErrUnexpectedEOF)
			}
			break
		}
		if err != nil {
			return fmt.Errorf("invalid JSON: %w", err)
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if top.n > 0 {
				newline()
			}
			out.WriteString(string(d))
			if len(stack) == 0 {
				out.WriteByte('\n')
			} else {
				stack[len(stack)-1].n++
			}
			continue
		}
		// Separator before this token.
		if len(stack) > 0 {
			top := &stack[len(stack)-1]
			switch {
			case top.array && top.n > 0:
				out.WriteByte(',')
				newline()
			case top.array:
				newline()
			case top.n%2 == 0 && top.n > 0:
				out.WriteByte(',')
				newline()
			case top.n == 0:
				newline()
			default:
				out.WriteString(": ")
			}
		}
		isKey := expectKey()
		switch v := tok.(type) {
		case json.Delim:
			out.WriteString(string(v))
			stack = append(stack, frame{array: v == '['})
			continue
		case string:
			b := quote(v)
			if isKey {
				out.WriteString(cs.Blue(string(b)))
			} else {
				out.WriteString(cs.Green(string(b)))
			}
		case json.Number:
			out.WriteString(cs.Cyan(string(v)))
		case bool:
			out.WriteString(cs.Yellow(fmt.Sprint(v)))
		case nil:
			out.WriteString(cs.Gray("null"))
		}
		if len(stack) == 0 {
			out.WriteByte('\n')
		} else {
			stack[len(stack)-1].n++
		}
	}
	_, err := w.Write(out.Bytes())
	return err
}

// quote renders s as a JSON string without escaping <, > and &.
func quote(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
