package cmdutil

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/config"
	"github.com/paragon-cli/paragon/keystore"
)

// AddGlobalFlags adds the persistent flags every command accepts and binds
// them to f.Globals (and --no-color to f.IOStreams).
func AddGlobalFlags(cmd *cobra.Command, f *Factory) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.Globals.Profile, "profile", "", "Use the profile `NAME` (default: $"+config.EnvProfile+", then the current profile, then \"default\")")
	pf.StringVar(&f.Globals.Keystore, "keystore", "", "Keep secrets in `STORE`: "+keystore.ChoiceAuto+", "+keystore.ChoiceKeyring+" or "+keystore.ChoiceFile+" (default: the profile's store, then $"+EnvKeystore+", then auto)")
	pf.BoolVar(&f.Globals.InsecureStorage, "insecure-storage", false, "Keep secrets in a plain file (mode 0600) instead of the OS keyring")
	pf.BoolVar(&f.Globals.Debug, "debug", false, "Trace HTTP requests and answers on stderr, secrets masked")
	pf.Var(&noColorValue{f: f}, "no-color", "Disable colour and styling (also: NO_COLOR)")
	pf.Lookup("no-color").NoOptDefVal = "true"
	pf.StringVar(&f.Globals.CACert, "cacert", "", "PEM `FILE` of extra CA certificates to trust")
	pf.BoolVar(&f.Globals.Insecure, "insecure", false, "Do not verify TLS certificates (unsafe)")
	_ = cmd.RegisterFlagCompletionFunc("profile", CompleteProfileNames(f))
	_ = cmd.RegisterFlagCompletionFunc("keystore", completeKeystore)
}

// noColorValue is --no-color: setting it turns colour off at once.
type noColorValue struct {
	f   *Factory
	set bool
}

func (v *noColorValue) String() string { return strconv.FormatBool(v.set) }
func (v *noColorValue) Type() string   { return "bool" }
func (v *noColorValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	v.set = b
	if b {
		v.f.IOStreams.SetNoColor(true)
	}
	return nil
}
