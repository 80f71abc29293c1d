package cmdutil

import "github.com/paragon-cli/paragon/cmd/internal/iostreams"

// Factory hands commands their dependencies. Fields that cost something to
// build are functions, called only by the commands that need them.
type Factory struct {
	IOStreams *iostreams.IOStreams
}
