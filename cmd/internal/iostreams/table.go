package iostreams

import (
	"io"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"
)

// Table is rows of cells for one listing. On a terminal it is laid out in
// columns by lipgloss' table (no borders, two spaces between columns, the
// header in bold); piped, it is one tab-separated line per row without the
// header, for cut -f and awk -F'\t'. Cells may hold styled text: widths are
// measured without escape sequences.
type Table struct {
	header []string
	rows   [][]string
	// Indent is how many spaces start every line of the aligned form.
	Indent int
}

// NewTable returns a table with the given header (none if empty).
func NewTable(header ...string) *Table { return &Table{header: header} }

// AddRow appends a row.
func (t *Table) AddRow(cells ...string) { t.rows = append(t.rows, cells) }

// Aligned returns the table in columns, every line ending in a newline and
// without trailing blanks. bold, if not nil, styles the header cells.
func (t *Table) Aligned(bold func(string) string) string {
	if len(t.rows) == 0 && len(t.header) == 0 {
		return ""
	}
	gap := lipgloss.NewStyle().PaddingRight(2)
	tbl := table.New().
		BorderTop(false).BorderBottom(false).BorderLeft(false).BorderRight(false).
		BorderHeader(false).BorderColumn(false).BorderRow(false).
		StyleFunc(func(row, col int) lipgloss.Style { return gap }).
		Rows(t.rows...)
	// Without a header lipgloss (v1.1.0) cuts the last row off: render an
	// empty header and drop its line.
	cols := len(t.header)
	for _, r := range t.rows {
		cols = max(cols, len(r))
	}
	h := make([]string, cols)
	for i, c := range t.header {
		h[i] = c
		if bold != nil {
			h[i] = bold(c)
		}
	}
	out := tbl.Headers(h...).Render()
	if len(t.header) == 0 {
		_, out, _ = strings.Cut(out, "\n")
	}
	indent := strings.Repeat(" ", t.Indent)
	var sb strings.Builder
	for line := range strings.SplitSeq(out, "\n") {
		sb.WriteString(strings.TrimRight(indent+line, " "))
		sb.WriteByte('\n')
	}
	return sb.String()
}

// TSV returns the rows as tab-separated lines, without the header.
func (t *Table) TSV() string {
	var sb strings.Builder
	for _, r := range t.rows {
		sb.WriteString(strings.Join(r, "\t"))
		sb.WriteByte('\n')
	}
	return sb.String()
}

// WriteTable writes t to Out: aligned with a bold header (when colour is
// on) on a terminal, tab-separated when Out is piped.
func (s *IOStreams) WriteTable(t *Table) error {
	out := t.TSV()
	if s.IsStdoutTTY() {
		out = t.Aligned(s.ColorScheme().Bold)
	}
	_, err := io.WriteString(s.Out, out)
	return err
}
