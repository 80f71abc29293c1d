// Command paragon is a command-line client and testing tool for the token
// authentication of the Dispatcher Paragon Cloud public API.
package main

import (
	"os"

	"github.com/paragon-cli/paragon/cmd/root"
)

func main() {
	os.Exit(root.Main())
}
