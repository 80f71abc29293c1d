package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/paragon-cli/paragon/scenarios"
)

// WriteStep writes one step of scenario s as it ended, for `paragon scenario
// run --verbose` (as `hurl --verbose` and `venom -v` do): a line with the
// scenario, the step, where it is written, its status and time, then any
// error and failed expectation, and the step's request (lines starting
// "> ") and response ("< "), masked as the runner masked them. Passing
// steps are written too. Control characters from the server are shown as
// \xNN.
func WriteStep(w io.Writer, s *scenarios.ScenarioResult, st scenarios.StepResult) {
	var b strings.Builder
	at := ""
	if st.Line > 0 && s.File != "" {
		at = fmt.Sprintf(" (%s:%d)", s.File, st.Line)
	}
	fmt.Fprintf(&b, "* %s › %s%s: %s in %s\n", oneLine(s.Name), oneLine(st.Name), at, st.Status, shortDuration(st.Duration))
	if st.Error != "" {
		fmt.Fprintf(&b, "*   error: %s\n", oneLine(st.Error))
	}
	for _, f := range st.Failures {
		fmt.Fprintf(&b, "*   %s: expected %s, got %s\n", oneLine(f.Expectation), oneLine(f.Expected), oneLine(f.Actual))
	}
	if ex := st.Exchange; ex != nil {
		prefixed(&b, "> ", ex.Request)
		prefixed(&b, "< ", ex.Response)
	}
	b.WriteString("\n")
	_, _ = io.WriteString(w, printable(b.String()))
}

// prefixed writes each line of text after prefix (a blank line as the
// prefix without its space, as curl -v does).
func prefixed(b *strings.Builder, prefix, text string) {
	text = strings.TrimRight(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	if text == "" {
		return
	}
	for _, l := range strings.Split(text, "\n") {
		if l == "" {
			b.WriteString(strings.TrimSpace(prefix) + "\n")
			continue
		}
		b.WriteString(prefix + l + "\n")
	}
}
