// Package device implements `paragon device register|status|forget`: trusting
// this machine as a device of the profile's server, which `paragon login`
// then uses to log users in.
package device

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
)

// NewCmdDevice returns the device command group.
func NewCmdDevice(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "device COMMAND",
		Short: "Register this machine as a trusted device",
		Long: `Before users can log in, the API key usually requires a trusted device: this
machine registers with its own Ed25519 key, an administrator approves it,
and its device token then vouches for every login. The key and tokens live
in the keystore; nothing needs to be copied by hand.`,
		Example: `  $ paragon device register --server http://127.0.0.1:7300 --api-key-stdin <<< paragon-dev-key
  $ paragon device status
  $ paragon device forget`,
	}
	cmd.AddCommand(NewCmdRegister(f, nil), NewCmdStatus(f, nil), NewCmdForget(f, nil))
	return cmd
}

// stateJSON is `device status --json` and `device register --json`: the
// device in the shape `paragon status --json` has it.
type stateJSON struct {
	Profile string             `json:"profile"`
	Device  cmdutil.DeviceJSON `json:"device"`
	Store   string             `json:"store"`
}

func printDone(ios *iostreams.IOStreams, jsonOut bool, st stateJSON) error {
	if jsonOut {
		return cmdutil.WriteJSON(ios, st)
	}
	if st.Device.ID != "" {
		fmt.Fprintln(ios.Out, st.Device.ID)
	}
	return nil
}
