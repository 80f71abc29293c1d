package profile

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/config"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/cmd/internal/trust"
	"github.com/paragon-cli/paragon/keystore"
)

// MigrateOptions holds what `profile migrate` needs.
type MigrateOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Config, error)
	// Selected returns the profile in use (no NAME argument).
	Selected func() (string, error)
	// OpenStore opens the backing store of a choice, without fallback for
	// "keyring".
	OpenStore func(choice string) (keystore.Store, keystore.Notice, error)
	// Lock takes the profile's refresh lock, so that no paragon process
	// rotates a token while its secrets move.
	Lock func(ctx context.Context, profile string) (func() error, error)
	// DefaultChoice is the store a profile without a recorded one uses.
	DefaultChoice string

	Name   string
	Target string // keyring or file
}

// NewCmdMigrate returns `profile migrate`. runF replaces the run function
// in tests.
func NewCmdMigrate(f *cmdutil.Factory, runF func(context.Context, *MigrateOptions) error) *cobra.Command {
	opts := &MigrateOptions{IO: f.IOStreams, Config: f.Config, OpenStore: f.OpenStoreChoice, Lock: f.LockProfile,
		Selected: func() (string, error) {
			n, _, err := f.ProfileName()
			return n, err
		}}
	return &cobra.Command{
		Use:   "migrate [NAME] --keystore keyring|file",
		Short: "Move a profile's secrets to another keystore",
		Long: `Move the API key, the device's key and tokens and the user's tokens of a
profile (the one in use, or NAME) to the keystore named by --keystore: into
the OS keyring once one works after a fallback to the file, or into the
file (--keystore file, or --insecure-storage).

Every secret is copied and read back from the new store before the profile
switches to it, and only then deleted from the old one, so an interruption
at any point leaves every secret readable from one store or the other. Other
paragon commands wait meanwhile rather than refresh a token being moved.`,
		Example: `  $ paragon profile migrate --keystore keyring
  $ paragon profile migrate staging --keystore keyring
  $ paragon profile migrate --insecure-storage`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: cmdutil.CompleteProfileArg(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch g := f.Globals; {
			case g.InsecureStorage && g.Keystore != "" && g.Keystore != keystore.ChoiceFile:
				return cmdutil.FlagErrorf("--insecure-storage keeps secrets in a file and cannot be combined with --keystore %s", g.Keystore)
			case g.InsecureStorage:
				opts.Target = keystore.ChoiceFile
			case g.Keystore == keystore.ChoiceKeyring || g.Keystore == keystore.ChoiceFile:
				opts.Target = g.Keystore
			case g.Keystore == "":
				return cmdutil.FlagErrorf("say where the secrets go: --keystore keyring (or --keystore file)")
			default:
				return cmdutil.FlagErrorf("--keystore %s: migrate moves secrets to keyring or file", g.Keystore)
			}
			opts.DefaultChoice = keystore.ChoiceAuto
			if v := f.Env(cmdutil.EnvKeystore); v != "" {
				opts.DefaultChoice = v
			}
			if len(args) == 1 {
				opts.Name = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return migrateRun(cmd.Context(), opts)
		},
	}
}

// migrateItems are the items a profile can have in its store.
var migrateItems = append(append([]string(nil), keystore.Items...), trust.ItemDeviceCode)

func migrateRun(ctx context.Context, opts *MigrateOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	name := opts.Name
	if name == "" {
		if name, err = opts.Selected(); err != nil {
			return err
		}
	}
	p, ok := cfg.Profile(name)
	if !ok {
		return cmdutil.UnknownProfile(cfg.Names(), name)
	}
	from := p.Keystore
	if from == "" {
		from = opts.DefaultChoice
	}
	cs := opts.IO.ColorSchemeStderr()
	if from == opts.Target {
		if p.KeystoreFallback && opts.Target == keystore.ChoiceFile {
			p.KeystoreFallback = false // kept in the file on purpose now
			if err := saveProfile(cfg, name, p); err != nil {
				return err
			}
		}
		fmt.Fprintf(opts.IO.ErrOut, "The secrets of profile %s are already in the %s store; nothing to move.\n", name, opts.Target)
		return nil
	}
	src, _, err := opts.OpenStore(from)
	if err != nil {
		return fmt.Errorf("opening the %s store that holds the secrets of profile %q: %v", from, name, cmdutil.KeyringCause(err.Error()))
	}
	if from == keystore.ChoiceAuto {
		from = src.Name()
		if from == opts.Target {
			fmt.Fprintf(opts.IO.ErrOut, "The secrets of profile %s are already in the %s store; nothing to move.\n", name, opts.Target)
			return nil
		}
	}
	dst, _, err := opts.OpenStore(opts.Target)
	if err != nil {
		if opts.Target == keystore.ChoiceKeyring {
			return fmt.Errorf("the OS keyring is not usable (%s): unlock or start one, then run this again; nothing was moved", cmdutil.KeyringCause(err.Error()))
		}
		return fmt.Errorf("opening the %s store: %v; nothing was moved", opts.Target, err)
	}
	unlock, err := opts.Lock(ctx, name)
	if err != nil {
		return err
	}
	defer func() { _ = unlock() }()

	moved, err := copySecrets(src, dst, name)
	if err != nil {
		return err
	}
	// Every secret is now readable from both stores: switch the profile.
	p.Keystore, p.KeystoreFallback = opts.Target, false
	if err := saveProfile(cfg, name, p); err != nil {
		return fmt.Errorf("%v; the secrets are still in the %s store, which the profile keeps using", err, from)
	}
	for _, e := range moved {
		if err := src.Delete(name, e.Item); err != nil {
			return fmt.Errorf("profile %s now uses the %s store, which holds all its secrets, but deleting the old copies from %s failed: %v; run this command again to delete them",
				name, opts.Target, cmdutil.StoreLocation(src, name), err)
		}
	}
	fmt.Fprintf(opts.IO.ErrOut, "%s Moved %d secrets of profile %s from %s to %s.\n", cs.SuccessIcon(), len(moved), name,
		cmdutil.StoreLocation(src, name), cmdutil.StoreLocation(dst, name))
	return nil
}

// copySecrets copies profile's items from src to dst and reads each back.
// Items dst holds that src does not (left by an earlier use of that store)
// are deleted, so that the profile's secrets are exactly src's. On failure
// the copies made are removed again (best effort) and src is untouched.
func copySecrets(src, dst keystore.Store, profile string) ([]keystore.Entry, error) {
	var entries []keystore.Entry
	for _, it := range migrateItems {
		v, err := src.Get(profile, it)
		if errors.Is(err, keystore.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s of profile %q: %v; nothing was moved", it, profile, cmdutil.KeyringCause(err.Error()))
		}
		entries = append(entries, keystore.Entry{Item: it, Value: v})
	}
	var written []string
	fail := func(err error) ([]keystore.Entry, error) {
		for _, it := range written {
			_ = dst.Delete(profile, it)
		}
		return nil, fmt.Errorf("%v; nothing was moved: the secrets stay in %s", err, cmdutil.StoreLocation(src, profile))
	}
	have := map[string]bool{}
	for _, e := range entries {
		have[e.Item] = true
		if err := dst.Set(profile, e.Item, e.Value); err != nil {
			return fail(fmt.Errorf("storing %s in %s: %v", e.Item, cmdutil.StoreLocation(dst, profile), cmdutil.KeyringCause(err.Error())))
		}
		written = append(written, e.Item)
		got, err := dst.Get(profile, e.Item)
		if err != nil || got != e.Value {
			return fail(fmt.Errorf("reading %s back from %s gave something else", e.Item, cmdutil.StoreLocation(dst, profile)))
		}
	}
	for _, it := range migrateItems {
		if !have[it] {
			if err := dst.Delete(profile, it); err != nil {
				return fail(fmt.Errorf("deleting an old %s from %s: %v", it, cmdutil.StoreLocation(dst, profile), cmdutil.KeyringCause(err.Error())))
			}
		}
	}
	return entries, nil
}

func saveProfile(cfg *config.Config, name string, p *config.Profile) error {
	if err := cfg.SetProfile(name, p); err != nil {
		return err
	}
	return cfg.Save()
}
