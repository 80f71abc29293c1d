package cmdutil

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/keystore"
)

// CompleteProfileNames completes profile names from the config file, for
// --profile and the NAME of profile use and profile remove. A config that
// cannot be read completes nothing (and never file names).
func CompleteProfileNames(f *Factory) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		cfg, err := f.Config()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		var out []cobra.Completion
		for _, name := range cfg.Names() {
			if strings.HasPrefix(name, toComplete) {
				out = append(out, cobra.CompletionWithDesc(name, cfg.Profiles[name].Server))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// CompleteProfileArg completes a command's one NAME argument with profile
// names, and nothing after it.
func CompleteProfileArg(f *Factory) cobra.CompletionFunc {
	names := CompleteProfileNames(f)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return names(cmd, args, toComplete)
	}
}

// completeKeystore completes --keystore with the stores it accepts.
func completeKeystore(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return []cobra.Completion{
		cobra.CompletionWithDesc(keystore.ChoiceAuto, "the OS keyring when it answers, else a file"),
		cobra.CompletionWithDesc(keystore.ChoiceKeyring, "the OS keyring only"),
		cobra.CompletionWithDesc(keystore.ChoiceFile, "a plain file (mode 0600)"),
	}, cobra.ShellCompDirectiveNoFileComp
}
