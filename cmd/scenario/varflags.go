package scenario

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/scenarios"
)

// varFlags are --var NAME=VALUE and --vars-file FILE, shared by run,
// validate and list: variables for ${NAME} in scenario files.
type varFlags struct {
	vars []string
	file string
}

// varsHelp is the paragraph of --help that explains them.
const varsHelp = `--var NAME=VALUE (repeatable) and --vars-file FILE (YAML: NAME: VALUE, or
NAME: {value: VALUE, secret: true}) give variables, used as ${NAME} in
scenario files. For one name, --var wins over --vars-file, which wins over
an environment variable; captures and built-in variables (api_key,
base_url, ...) come first and cannot be set. The values of variables whose
names look like secrets (password, api_key, token, secret, ...) and of every
vars file entry marked secret are masked in every report.`

func (v *varFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&v.vars, "var", nil, "Set ${NAME} in scenario files, as `NAME=VALUE` (repeatable; wins over --vars-file and the environment)")
	fl.StringVar(&v.file, "vars-file", "", "Read variables from a YAML `FILE` (NAME: VALUE or NAME: {value: VALUE, secret: true}; wins over the environment)")
	_ = cmd.RegisterFlagCompletionFunc("var", cobra.NoFileCompletions)
	_ = cmd.MarkFlagFilename("vars-file", "yaml", "yml")
}

// resolve reads --vars-file and then --var: for one name the flag's value
// comes last, so it wins. Mistakes are usage errors (exit 2); the
// problems of the file are printed to w first, one a line, as file:line:column:
// message.
func (v *varFlags) resolve(w io.Writer) ([]scenarios.Variable, error) {
	var out []scenarios.Variable
	if v.file != "" {
		fromFile, err := scenarios.ReadVarsFile(v.file)
		var ve *scenarios.ValidationError
		switch {
		case errors.As(err, &ve):
			for _, p := range ve.Problems {
				fmt.Fprintln(w, p.String())
			}
			return nil, &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: fmt.Errorf("--vars-file %s: %s", v.file, plural(len(ve.Problems), "problem", "problems"))}
		case err != nil:
			return nil, &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: fmt.Errorf("--vars-file: %w", err)}
		}
		out = fromFile
	}
	for _, s := range v.vars {
		name, value, ok := strings.Cut(s, "=")
		if !ok {
			return nil, cmdutil.FlagErrorf("--var %q: expected NAME=VALUE, e.g. --var user=alice", s)
		}
		if err := scenarios.CheckVarName(name); err != nil {
			return nil, cmdutil.FlagErrorf("--var: %v", err)
		}
		out = append(out, scenarios.Variable{Name: name, Value: value, Source: "--var"})
	}
	return out, nil
}

// varNames are the names of vars, for the validator.
func varNames(vars []scenarios.Variable) []string {
	names := make([]string, len(vars))
	for i, v := range vars {
		names[i] = v.Name
	}
	return names
}

// secretValues are the values of vars that reports mask.
func secretValues(vars []scenarios.Variable) []string {
	var out []string
	for _, v := range vars {
		if v.IsSecret() {
			out = append(out, v.Value)
		}
	}
	return out
}
