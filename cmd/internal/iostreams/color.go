package iostreams

import (
	"io"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// ColorScheme styles short strings for one stream. When colour is off every
// method returns its argument unchanged, so output piped to a file or shown
// with NO_COLOR has no escape sequences.
type ColorScheme struct {
	enabled bool
	r       *lipgloss.Renderer
}

// ColorScheme returns the styles for Out.
func (s *IOStreams) ColorScheme() *ColorScheme { return newScheme(s.Out, s.ColorEnabled()) }

// ColorSchemeStderr returns the styles for ErrOut.
func (s *IOStreams) ColorSchemeStderr() *ColorScheme {
	return newScheme(s.ErrOut, s.ColorEnabledStderr())
}

func newScheme(w io.Writer, enabled bool) *ColorScheme {
	cs := &ColorScheme{enabled: enabled}
	if enabled {
		cs.r = lipgloss.NewRenderer(w)
		cs.r.SetColorProfile(termenv.ANSI)
	}
	return cs
}

func (c *ColorScheme) fg(color, s string) string {
	if !c.enabled {
		return s
	}
	return c.r.NewStyle().Foreground(lipgloss.Color(color)).Render(s)
}

// Bold renders s in bold.
func (c *ColorScheme) Bold(s string) string {
	if !c.enabled {
		return s
	}
	return c.r.NewStyle().Bold(true).Render(s)
}

// Red renders s in red (errors).
func (c *ColorScheme) Red(s string) string { return c.fg("1", s) }

// Green renders s in green (success).
func (c *ColorScheme) Green(s string) string { return c.fg("2", s) }

// Yellow renders s in yellow (warnings).
func (c *ColorScheme) Yellow(s string) string { return c.fg("3", s) }

// Blue renders s in blue (JSON keys).
func (c *ColorScheme) Blue(s string) string { return c.fg("4", s) }

// Cyan renders s in cyan (progress).
func (c *ColorScheme) Cyan(s string) string { return c.fg("6", s) }

// Gray renders s dimmed (secondary information).
func (c *ColorScheme) Gray(s string) string { return c.fg("8", s) }

// SuccessIcon is a green check mark, or "✓" unstyled.
func (c *ColorScheme) SuccessIcon() string { return c.Green("✓") }

// WarningIcon is a yellow "!", unstyled without colour.
func (c *ColorScheme) WarningIcon() string { return c.Yellow("!") }

// FailureIcon is a red "X", unstyled without colour.
func (c *ColorScheme) FailureIcon() string { return c.Red("X") }
