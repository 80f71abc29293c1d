package cmdutil

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/cmd/internal/jsoncolor"
)

// AddJSONFlag adds --json to a command that prints data; the command then
// prints through WriteJSON when *enabled is true. This is the one place the
// flag is defined, so it reads the same everywhere.
func AddJSONFlag(cmd *cobra.Command, enabled *bool) {
	cmd.Flags().BoolVar(enabled, "json", false, "Print the result as JSON")
}

// WriteJSON prints v to stdout as JSON: indented and coloured on a terminal,
// one compact line otherwise.
func WriteJSON(ios *iostreams.IOStreams, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encoding JSON: %w", err)
	}
	if ios.IsStdoutTTY() {
		return jsoncolor.Write(ios.Out, &buf, "  ", ios.ColorScheme())
	}
	_, err := ios.Out.Write(buf.Bytes())
	return err
}
