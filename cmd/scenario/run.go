package scenario

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/internal/redact"
	"github.com/paragon-cli/paragon/scenarios"
	"github.com/paragon-cli/paragon/scenarios/report"
)

// RunOptions is what `paragon scenario run` needs.
type RunOptions struct {
	IO    *iostreams.IOStreams
	Paths []string

	Server   string
	OAuthURL string
	APIKey   string
	// APIKeyFrom names where APIKey came from, for messages: "--api-key",
	// "PARAGON_API_KEY", or "" when none was given (the demo key is used).
	APIKeyFrom   string
	AdminURL     string
	AdminToken   string
	SecondAPIKey string
	NoDeviceKeys bool
	// Target is the --target file: what the scenarios may assume about a
	// server they cannot configure (nil: none).
	Target     *scenarios.TargetFile
	TargetPath string
	// Plan: print what the run would do instead of running.
	Plan bool

	Parallel   int
	ShardIndex int // 1-based; 0 with ShardCount 0: no sharding
	ShardCount int
	Tags       []string
	Names      []string
	FailFast   bool
	Strict     bool
	FailOnSkip bool // any skipped scenario fails the run
	AllowEmpty bool // a run in which every scenario was skipped passes
	Verbose    bool // every step, with its request and response, on stderr

	ExpectedFailures string // baseline file
	Reports          []ReportSpec
	Vars             []scenarios.Variable // --vars-file, then --var

	// HTTPClient builds the client for an outside server (--cacert,
	// --insecure, --debug); nil: the runner's default client.
	HTTPClient func() (*http.Client, error)
	// Runner runs the scenarios (scenarios.Run; tests replace it).
	Runner func(context.Context, []*scenarios.Scenario, scenarios.RunOptions) (*scenarios.Report, error)
	// Spin is the terminal spinner's frame interval (0: no animation).
	Spin time.Duration
}

// ReportSpec is one --report FORMAT=FILE.
type ReportSpec struct {
	Format string // a registered format: html, junit, json or tap
	Path   string // "-" is stdout (json and tap only)
}

// NewCmdRun returns `paragon scenario run`. runF replaces the run function
// in tests.
func NewCmdRun(f *cmdutil.Factory, runF func(context.Context, *RunOptions) error) *cobra.Command {
	opts := &RunOptions{
		IO:         f.IOStreams,
		HTTPClient: func() (*http.Client, error) { return f.HTTPClient("") },
		Runner:     scenarios.Run,
		Spin:       80 * time.Millisecond,
	}
	var shard string
	var reports []string
	var vf varFlags
	sf := serverFlags{&opts.Server, &opts.OAuthURL, &opts.APIKey, &opts.APIKeyFrom, &opts.AdminURL, &opts.AdminToken, &opts.SecondAPIKey}
	cmd := &cobra.Command{
		Use:   "run [PATH...]",
		Args:  cobra.ArbitraryArgs,
		Short: "Run compliance scenarios against a server",
		Long: `Run scenario files (files, directories or globs), or with no PATH the
built-in compliance suite. Without --server, the scenarios run against an
embedded reference server with a fake clock, reset before each scenario.
A file whose first document holds setup: and teardown: runs setup once
before its first selected scenario and teardown once after its last (after
a failure or Ctrl-C too), all on one server; reports list them as entries
"setup (FILE)" and "teardown (FILE)" (docs/scenarios.md).

Each scenario ends PASSED, WARNING (a rule the vendor leaves open was not
followed), FAILED or SKIPPED (the target lacks what it needs, e.g. an admin
API). A person gets live progress, every failure in detail with the masked
request and response, and a summary; --report writes files for CI.

Exit status: 0 all passed (warnings allowed unless --strict, skips allowed
unless --fail-on-skip), 1 a scenario failed or every selected scenario was
skipped (nothing was tested; --allow-empty accepts that), 2 a usage mistake, an invalid scenario file, or an API key
(--api-key, PARAGON_API_KEY, --second-api-key) or admin token the target
refuses, checked before anything runs, 3 the target (its API, OAuth service or admin
API) could not be reached. When the run cannot start, only the error is
printed, naming the server and what to check.

--admin-url gives the runner the reference server's admin API: the scenarios
that need it (most of the suite) run, and it RESETS the target, before the
run and again before every scenario that changes server state: devices,
logins, tokens and settings on that server are wiped. Point it only at a
server kept for testing. Without it those scenarios are skipped, counted in
one line per reason.

--target FILE declares what the run may assume about a server it cannot
configure (a vendor tenant, a staging install): its keys and their switches,
the real accounts for the scenarios' users, its lifetimes, the device key
types it accepts and how devices get trusted. Without --admin-url each
scenario's given is then checked against the file: a scenario it satisfies
runs, one it does not is skipped with the reason; clock moves become real
waits up to the file's max_wait. Secrets in it come only from ${VARIABLES}.
--plan prints, without sending a request, which scenarios would run, which
would be skipped and why (grouped by reason) and how long the real waits
would take. See docs/real-servers.md.

--expected-failures FILE names scenarios a known-imperfect server is allowed
to fail, one name a line (# starts a comment). Their failures are reported but
do not fail the run; a listed scenario that passes is pointed out so the file
can be pruned.

-v/--verbose prints every step on stderr as it ends, passing ones too: the
scenario, the step and where it is written, its status and time, then its
request ("> " lines) and response ("< " lines), secrets masked, against the
embedded server too (--debug traces only the HTTP of outside servers).
--report json=FILE carries the same for every step.

--api-key and --admin-token may come from PARAGON_API_KEY and
PARAGON_ADMIN_TOKEN instead; they and --second-api-key are masked in every
report.

` + varsHelp,
		Example: `  # the built-in suite against the embedded reference server
  $ paragon scenario run

  # an outside server, with its admin API so nothing is skipped
  $ paragon scenario run --server https://127.0.0.1:7300 --api-key paragon-dev-key \
      --admin-url https://127.0.0.1:7300 --admin-token "$TOKEN"

  # CI: the second of four shards, reports for the CI server and people, a baseline
  $ paragon scenario run --server https://qa.example.com:7300 --shard 2/4 \
      --report junit=out/junit.xml --report html=out/report.html \
      --expected-failures known-gaps.txt

  # a tenant the run cannot configure, described by a target file: first the plan
  $ paragon scenario run --target qa-target.yaml --plan
  $ paragon scenario run --target qa-target.yaml --parallel 8 --report junit=out/junit.xml

  # my own scenarios, only the refresh ones, TAP on stdout
  $ paragon scenario run suites/ --tag refresh --report tap=-

  # every step with its request and response, as it runs
  $ paragon scenario run suites/login.yaml -v

  # variables for ${user} and ${password} in my scenarios
  $ paragon scenario run suites/ --var user=alice --vars-file staging.yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			fl := cmd.Flags()
			if err := readTarget(fl, opts); err != nil {
				return err
			}
			if err := sf.resolve(fl, "the scenarios run against the embedded reference server", opts.IO.ErrOut); err != nil {
				return err
			}
			if opts.Target != nil {
				// the keys come from the target file, not PARAGON_API_KEY
				opts.APIKey, opts.APIKeyFrom = "", "the keys of "+opts.TargetPath
			}
			if fl.Changed("admin-token") && opts.AdminURL == "" {
				return cmdutil.FlagErrorf("--admin-token needs --admin-url")
			}
			if opts.AdminURL != "" && opts.AdminToken == "" {
				return cmdutil.FlagErrorf("--admin-url needs --admin-token (or PARAGON_ADMIN_TOKEN)")
			}
			if opts.Parallel < 1 {
				return cmdutil.FlagErrorf("--parallel must be at least 1, got %d", opts.Parallel)
			}
			if f.Globals.Debug && opts.Server == "" {
				// The embedded server is called in process, with no HTTP
				// to trace: --debug shows every exchange as -v does.
				opts.Verbose = true
			}
			if fl.Changed("shard") {
				i, n, err := parseShard(shard)
				if err != nil {
					return cmdutil.FlagErrorf("%v", err)
				}
				opts.ShardIndex, opts.ShardCount = i, n
			}
			specs, err := parseReports(reports)
			if err != nil {
				return cmdutil.FlagErrorf("%v", err)
			}
			opts.Reports = specs
			if opts.Vars, err = vf.resolve(opts.IO.ErrOut); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	sf.add(fl, "Run against the server at `URL` (its API root) instead of the embedded one",
		"Root `URL` of the reference server's admin API; the run resets that server before it starts and during the run (without it, scenarios that need it are skipped)",
		"Another active API `KEY` of the account, for the scenarios that check a token is bound to its key")
	fl.StringVar(&opts.TargetPath, "target", "", "Target `FILE` (YAML) declaring the keys, users, lifetimes and device approval of a server the run cannot configure (see docs/real-servers.md)")
	fl.BoolVar(&opts.Plan, "plan", false, "Print which scenarios would run, which would be skipped and why, and how long the real waits would take; send nothing")
	fl.BoolVar(&opts.NoDeviceKeys, "no-device-keys", false, "The server does not accept device public keys: skip scenarios that need them")
	fl.IntVar(&opts.Parallel, "parallel", 1, "Run `N` scenarios at once")
	fl.StringVar(&shard, "shard", "", "Run only shard `I/N` of the selected scenarios (e.g. 2/4)")
	fl.StringArrayVar(&opts.Tags, "tag", nil, "Run only scenarios with this `TAG` (repeatable)")
	fl.StringArrayVar(&opts.Names, "name", nil, "Run only scenarios whose name contains or matches this `PATTERN` (substring or regexp, repeatable)")
	fl.BoolVar(&opts.FailFast, "fail-fast", false, "Skip the remaining scenarios after the first failure")
	fl.StringVar(&opts.ExpectedFailures, "expected-failures", "", "Baseline `FILE` of scenario names allowed to fail")
	fl.BoolVar(&opts.Strict, "strict", false, "Warnings fail the run")
	fl.BoolVar(&opts.FailOnSkip, "fail-on-skip", false, "A skipped scenario fails the run (exit 1)")
	fl.BoolVar(&opts.AllowEmpty, "allow-empty", false, "A run in which every selected scenario was skipped passes (by default it fails: nothing was tested)")
	fl.BoolVarP(&opts.Verbose, "verbose", "v", false, "Print every step as it ends, with its masked request and response, on stderr")
	fl.StringArrayVar(&reports, "report", nil, "Also write a report, as `FORMAT=FILE`: html, junit, json or tap; FILE - is stdout for json and tap; missing directories are created (repeatable)")
	completeSelection(cmd)
	noFileCompletion(cmd, "server", "oauth-url", "api-key", "admin-url", "admin-token", "second-api-key", "parallel", "shard")
	vf.add(cmd)
	_ = cmd.RegisterFlagCompletionFunc("report", completeReport)
	return cmd
}

func parseShard(s string) (int, int, error) {
	is, ns, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("--shard: expected I/N such as 2/4, got %q", s)
	}
	if n < 1 || i < 1 || i > n {
		return 0, 0, fmt.Errorf("--shard %s: expected 1 ≤ I ≤ N", s)
	}
	return i, n, nil
}

// completeReport completes --report: the formats as FORMAT= first, then
// file names after the =.
func completeReport(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if strings.Contains(toComplete, "=") {
		return nil, cobra.ShellCompDirectiveDefault // the shell completes the file name
	}
	var out []cobra.Completion
	for _, format := range report.Formats() {
		w, _ := report.WriterFor(format)
		desc := w.Doc
		if w.ToStdout {
			desc += " (- for stdout)"
		}
		if strings.HasPrefix(format+"=", toComplete) {
			out = append(out, cobra.CompletionWithDesc(format+"=", desc))
		}
	}
	return out, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
}

func parseReports(specs []string) ([]ReportSpec, error) {
	var out []ReportSpec
	stdout := ""
	for _, s := range specs {
		format, path, ok := strings.Cut(s, "=")
		format = strings.ToLower(strings.TrimSpace(format))
		if !ok || path == "" {
			return nil, fmt.Errorf("--report %q: expected FORMAT=FILE, e.g. junit=report.xml", s)
		}
		w, known := report.WriterFor(format)
		if !known {
			fs := report.Formats()
			return nil, fmt.Errorf("--report %q: unknown format %q (expected %s or %s)", s, format, strings.Join(fs[:len(fs)-1], ", "), fs[len(fs)-1])
		}
		if path == "-" {
			if !w.ToStdout {
				var std []string
				for _, f := range report.Formats() {
					if fw, _ := report.WriterFor(f); fw.ToStdout {
						std = append(std, f+"=-")
					}
				}
				name := strings.ToUpper(format)
				if format == "junit" {
					name = "JUnit"
				}
				return nil, fmt.Errorf("--report %s=-: %s goes to a file; use %s for stdout", format, name, strings.Join(std, " or "))
			}
			if stdout != "" {
				return nil, fmt.Errorf("--report: only one report can go to stdout (%s and %s)", stdout, format)
			}
			stdout = format
		}
		out = append(out, ReportSpec{Format: format, Path: path})
	}
	return out, nil
}

func runRun(ctx context.Context, opts *RunOptions) error {
	ios := opts.IO
	if err := prepareReportDirs(opts.Reports); err != nil {
		return err
	}
	all, err := load(ctx, opts.Paths, ios.ErrOut, varNames(opts.Vars))
	if err != nil {
		return err
	}
	baseline, err := scenarios.ReadBaseline(opts.ExpectedFailures)
	if err != nil {
		return &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: fmt.Errorf("--expected-failures: %w", err)}
	}
	if unknown := baseline.Unknown(all); len(unknown) > 0 {
		fmt.Fprintf(ios.ErrOut, "warning: %s lists %s not in the suite: %s\n", opts.ExpectedFailures,
			plural(len(unknown), "scenario", "scenarios"), strings.Join(unknown, ", "))
	}

	matching, err := selectScenarios(all, opts.Tags, opts.Names)
	if err != nil {
		return err
	}
	list := scenarios.Select(matching, scenarios.Selection{ShardIndex: opts.ShardIndex, ShardCount: opts.ShardCount})
	if opts.Plan {
		printPlan(ios.Out, opts, list)
		return nil
	}

	// People read the terminal report on stdout, unless a report file took it.
	human, tty, color := ios.Out, ios.IsStdoutTTY(), ios.ColorEnabled()
	for _, r := range opts.Reports {
		if r.Path == "-" {
			human, tty, color = ios.ErrOut, ios.IsStderrTTY(), ios.ColorEnabledStderr()
		}
	}
	term := report.NewTerminal(human, report.TerminalOptions{
		TTY: tty, Color: color, Width: terminalWidth(human), Strict: opts.Strict,
		FailOnSkip: opts.FailOnSkip, AllowEmpty: opts.AllowEmpty,
		Baseline: opts.ExpectedFailures, Spin: opts.Spin,
	})
	target := "embedded reference server"
	secrets := secretValues(opts.Vars)
	var hc *http.Client
	if opts.Server != "" {
		target = opts.Server
		secrets = append(secrets, opts.APIKey, opts.AdminToken, opts.SecondAPIKey)
		if opts.Target != nil {
			secrets = append(secrets, opts.Target.Declared.Secrets()...)
		}
		if opts.HTTPClient != nil {
			if hc, err = opts.HTTPClient(); err != nil {
				return err
			}
		}
	}
	if opts.ShardCount > 1 {
		target += fmt.Sprintf(" · shard %d/%d", opts.ShardIndex, opts.ShardCount)
	}
	// The header waits for the first scenario: a target that cannot be used
	// gets an error line alone, not an empty report.
	started := false
	start := func() {
		if !started {
			started = true
			term.Start(target, len(list))
		}
	}

	rep, err := opts.Runner(ctx, list, scenarios.RunOptions{
		Target: scenarios.Target{
			BaseURL: opts.Server, OAuthURL: opts.OAuthURL, APIKey: opts.APIKey,
			AdminURL: opts.AdminURL, AdminToken: opts.AdminToken, SecondAPIKey: opts.SecondAPIKey,
			NoDeviceKeys: opts.NoDeviceKeys, HTTPClient: hc, Declared: declared(opts.Target),
			Prompt: approvalPrompt(ios),
		},
		Parallel: opts.Parallel,
		FailFast: opts.FailFast,
		Baseline: baseline,
		Vars:     opts.Vars,
		OnEvent: func(e scenarios.Event) {
			switch e.Kind {
			case scenarios.ScenarioStarted:
				start()
				term.Started(e.Scenario.Name)
			case scenarios.StepFinished:
				if opts.Verbose && e.Step != nil {
					one := report.Redact(&scenarios.Report{Scenarios: []scenarios.ScenarioResult{{
						Name: e.Scenario.Name, File: e.Scenario.File, Steps: []scenarios.StepResult{*e.Step},
					}}}, secrets...)
					term.Aside(func() { report.WriteStep(ios.ErrOut, &one.Scenarios[0], one.Scenarios[0].Steps[0]) })
				}
			case scenarios.ScenarioFinished:
				one := report.Redact(&scenarios.Report{Scenarios: []scenarios.ScenarioResult{*e.Result}}, secrets...)
				term.Finished(one.Scenarios[0])
			}
		},
	})
	if rep == nil {
		if ctx.Err() != nil { // Ctrl-C or SIGTERM while checking the target: not the target's fault
			return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: errors.New("interrupted before the first scenario ran")}
		}
		if err == nil {
			err = errors.New("the runner returned no report")
		}
		return targetError(scrub(err, secrets), opts.APIKeyFrom)
	}
	start()
	rep = report.Redact(rep, secrets...)
	if opts.ShardCount > 1 {
		rep.Target = target
	}
	term.Finish(rep)
	printLeftovers(human, rep)
	rep.Policy = scenarios.Policy{Strict: opts.Strict, FailOnSkip: opts.FailOnSkip, AllowEmpty: opts.AllowEmpty} // the HTML report states the exit status
	if werr := writeReports(opts, rep); werr != nil {
		return werr
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: errors.New("interrupted: scenarios that did not run are reported as SKIPPED")}
	}
	if err != nil {
		return scrub(err, secrets)
	}
	if !report.Judge(rep, rep.Policy).OK() {
		return &cmdutil.ExitError{Code: cmdutil.ExitFailure}
	}
	return nil
}

// targetError turns an error that kept the run from starting into the exit
// code and a message that says what to check: 3 when a service of the target
// cannot be reached, 2 when it refuses an API key or its admin API refuses
// the admin token (the invocation is wrong, like a bad flag), else 1.
// keyFrom names where the API key came from (RunOptions.APIKeyFrom).
func targetError(err error, keyFrom string) error {
	var ue *scenarios.UnreachableError
	var kre *scenarios.KeyRefusedError
	switch {
	case errors.As(err, &kre):
		hint := "check --second-api-key: it must be another active API key of the same account"
		if kre.Key != scenarios.KeySecond {
			switch keyFrom {
			case "":
				hint = fmt.Sprintf("no --api-key was given, so the reference server's demo key %s was tried: pass the server's key with --api-key KEY (or PARAGON_API_KEY)", scenarios.DemoAPIKey)
			default:
				hint = fmt.Sprintf("check %s: it must be an active API key of the server's account, allowed from this address", keyFrom)
			}
		}
		return &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: fmt.Errorf("%w\n%s", err, hint)}
	case errors.As(err, &ue):
		flag := map[string]string{scenarios.ServiceAPI: "--server", scenarios.ServiceOAuth: "--oauth-url", scenarios.ServiceAdmin: "--admin-url"}[ue.Service]
		hint := fmt.Sprintf("check %s and that the server is running and reachable from here", flag)
		var cve *tls.CertificateVerificationError
		var se *cmdutil.SchemeError
		if errors.As(err, &se) {
			hint, _ = cmdutil.ConnectionProblem(err, cmdutil.Target{Flag: flag, URL: ue.URL})
		} else if errors.As(err, &cve) {
			hint = "the server's certificate is not trusted: give its CA with --cacert FILE (or --insecure to skip the check)"
		}
		return &cmdutil.ExitError{Code: cmdutil.ExitUnreachable, Err: fmt.Errorf("%w\n%s", err, hint)}
	case errors.Is(err, scenarios.ErrUnreachable):
		return &cmdutil.ExitError{Code: cmdutil.ExitUnreachable, Err: err}
	case errors.Is(err, scenarios.ErrAdminTokenRefused):
		return &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: fmt.Errorf("%w\ncheck --admin-token (or PARAGON_ADMIN_TOKEN): it must be the admin token the server printed at start", err)}
	}
	return err
}

// scrub masks secrets in an error's message.
func scrub(err error, secrets []string) error {
	set := &redact.Set{}
	for _, s := range secrets {
		set.Add(s)
	}
	msg := set.Scrub(err.Error())
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

// prepareReportDirs makes sure, before anything runs, that each --report
// file can be written: missing parent directories are created (as Hurl and
// most reporters do), and a path that cannot hold a file is a usage mistake
// (exit 2) rather than a finished run whose report is lost.
func prepareReportDirs(specs []ReportSpec) error {
	for _, spec := range specs {
		if spec.Path == "-" {
			continue
		}
		fail := func(err error) error {
			return &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: fmt.Errorf("--report %s=%s: %w", spec.Format, spec.Path, err)}
		}
		dir := filepath.Dir(spec.Path)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fail(fmt.Errorf("cannot create the directory %s: %w", dir, pathErrorCause(err)))
		}
		if fi, err := os.Stat(spec.Path); err == nil && fi.IsDir() {
			return fail(errors.New("is a directory; name a file"))
		}
		// Create and remove a file beside it: permissions are checked now.
		probe, err := os.CreateTemp(dir, "."+filepath.Base(spec.Path)+".*")
		if err != nil {
			return fail(fmt.Errorf("cannot write in %s: %w", dir, pathErrorCause(err)))
		}
		probe.Close()
		os.Remove(probe.Name())
	}
	return nil
}

// pathErrorCause is the reason inside an *os.PathError (such as "permission
// denied"), without the path, which may be a temporary file's name.
func pathErrorCause(err error) error {
	var pe *os.PathError
	var le *os.LinkError // the rename into place
	switch {
	case errors.As(err, &pe):
		return pe.Err
	case errors.As(err, &le):
		return le.Err
	}
	return err
}

// writeReports writes each --report. A file is written beside its final
// name and renamed into place, so CI never reads half a report.
func writeReports(opts *RunOptions, rep *scenarios.Report) error {
	for _, spec := range opts.Reports {
		w, _ := report.WriterFor(spec.Format)
		write := w.Write
		if spec.Path == "-" {
			if err := write(opts.IO.Out, rep); err != nil {
				return fmt.Errorf("%s report: %w", spec.Format, err)
			}
			continue
		}
		if err := writeFileAtomic(spec.Path, func(w io.Writer) error { return write(w, rep) }); err != nil {
			return fmt.Errorf("%s report: cannot write %s: %w", spec.Format, spec.Path, pathErrorCause(err))
		}
	}
	return nil
}

func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // gone after the rename; cleans up on failure
	bw := bufio.NewWriter(tmp)
	if err := write(bw); err != nil {
		tmp.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func declared(tf *scenarios.TargetFile) *scenarios.Declared {
	if tf == nil {
		return nil
	}
	return tf.Declared
}

// readTarget reads --target for run: its server and OAuth URL stand unless
// --server and --oauth-url are given; flags that say what the file says
// are refused, naming what to write instead.
func readTarget(fl *pflag.FlagSet, opts *RunOptions) error {
	if !fl.Changed("target") {
		return nil
	}
	tf, err := readTargetFile(fl, opts.TargetPath, &opts.Server, &opts.OAuthURL)
	if err != nil {
		return err
	}
	if tf.Declared.Approval == scenarios.ApprovalPrompt && !opts.IO.IsStdinTTY() {
		return &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: fmt.Errorf("--target %s: approval: prompt needs a terminal to ask on; use approval: wait (an administrator approves the devices) or approval: command", opts.TargetPath)}
	}
	opts.Target = tf
	return nil
}

// readTargetFile reads the target file path of --target, for run and
// explore: a flag that says what the file says is a usage error naming
// what to write instead; the file's server and OAuth URL fill server and
// oauth unless they are set (by --server and --oauth-url).
func readTargetFile(fl *pflag.FlagSet, path string, server, oauth *string) (*scenarios.TargetFile, error) {
	usage := func(err error) error { return &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: err} }
	for _, c := range []struct{ flag, instead string }{
		{"api-key", "its keys: {default: {value: \"${VARIABLE}\"}}"},
		{"second-api-key", "its keys: {second: {value: \"${VARIABLE}\"}}"},
		{"no-device-keys", "device_keys: []"},
	} {
		if fl.Changed(c.flag) {
			return nil, usage(fmt.Errorf("--%s contradicts --target %s: declare it in the file instead (%s)", c.flag, path, c.instead))
		}
	}
	tf, err := scenarios.ReadTargetFile(path, nil)
	if err != nil {
		var ve *scenarios.ValidationError
		var mv *scenarios.MissingVarError
		switch {
		case errors.As(err, &ve):
			return nil, usage(fmt.Errorf("--target: %w", err))
		case errors.As(err, &mv):
			return nil, usage(fmt.Errorf("--target: %w", err))
		}
		return nil, usage(fmt.Errorf("--target: cannot read %s: %w", path, pathErrorCause(err)))
	}
	if *server == "" {
		*server = tf.Server
	}
	if *oauth == "" {
		*oauth = tf.OAuthURL
	}
	if *server == "" {
		return nil, usage(fmt.Errorf("--target %s names no server: add server: URL to it, or pass --server URL", path))
	}
	return tf, nil
}

// approvalPrompt asks a person, one device at a time, to approve a device
// on the server, and waits for Enter.
func approvalPrompt(ios *iostreams.IOStreams) func(clientID, description string) {
	var mu sync.Mutex
	in := bufio.NewReader(ios.In)
	return func(clientID, description string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(ios.ErrOut, "\nApprove the device %s (%s) on the server, then press Enter: ", clientID, description)
		_, _ = in.ReadString('\n')
	}
}

// printPlan prints what a run of list would do, without a request: the
// scenarios that would run with their real waits, then the skipped ones
// grouped by reason.
func printPlan(w io.Writer, opts *RunOptions, list []*scenarios.Scenario) {
	target := "the embedded reference server"
	if opts.Server != "" {
		target = opts.Server
	}
	if opts.Target != nil {
		target += " as " + opts.TargetPath + " declares it"
	}
	plan := scenarios.Plan(list, scenarios.Target{
		BaseURL: opts.Server, OAuthURL: opts.OAuthURL, APIKey: opts.APIKey, AdminURL: opts.AdminURL,
		SecondAPIKey: opts.SecondAPIKey, NoDeviceKeys: opts.NoDeviceKeys, Declared: declared(opts.Target),
	})
	var run []scenarios.PlannedScenario
	var reasons []string
	skipped := map[string][]string{}
	var total, longest time.Duration
	scenarioCount := 0
	for _, p := range plan {
		if p.Hook != "" {
			if p.Skip == "" {
				run = append(run, p)
				total += p.Wait
			}
			continue // a skipped setup or teardown follows from its scenarios
		}
		scenarioCount++
		if p.Skip != "" {
			if skipped[p.Skip] == nil {
				reasons = append(reasons, p.Skip)
			}
			skipped[p.Skip] = append(skipped[p.Skip], p.Name)
			continue
		}
		run = append(run, p)
		total += p.Wait
		longest = max(longest, p.Wait)
	}
	runCount := 0
	for _, p := range run {
		if p.Hook == "" {
			runCount++
		}
	}
	fmt.Fprintf(w, "Plan for %s: %d of %d scenarios would run, %d would be skipped.\n", target, runCount, scenarioCount, scenarioCount-runCount)
	if total > 0 {
		overlap := "add --parallel N to let them overlap"
		if opts.Parallel > 1 {
			overlap = fmt.Sprintf("--parallel %d lets them overlap", opts.Parallel)
		}
		fmt.Fprintf(w, "Real waits: %s in all, at most %s in one scenario (%s).\n", total, longest, overlap)
	}
	fmt.Fprintf(w, "\nRUN      %s\n", plural(runCount, "scenario", "scenarios"))
	for _, p := range run {
		switch {
		case p.Hook == scenarios.HookSetup:
			fmt.Fprintf(w, "  %s: %s, once before the file's scenarios\n", p.Name, plural(p.Steps, "step", "steps"))
		case p.Hook == scenarios.HookTeardown:
			fmt.Fprintf(w, "  %s: %s, once after them, whatever happened\n", p.Name, plural(p.Steps, "step", "steps"))
		case p.Wait > 0:
			fmt.Fprintf(w, "  %s (waits %s)\n", p.Name, p.Wait)
		default:
			fmt.Fprintf(w, "  %s\n", p.Name)
		}
	}
	sort.SliceStable(reasons, func(i, j int) bool { return len(skipped[reasons[i]]) > len(skipped[reasons[j]]) })
	for _, r := range reasons {
		fmt.Fprintf(w, "\nSKIP     %s: %s\n", plural(len(skipped[r]), "scenario", "scenarios"), r)
		for _, n := range skipped[r] {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}
}

// printLeftovers says what the run left on an outside server: the devices
// it registered (the JSON report lists them) and what scenarios created
// and could not remove.
func printLeftovers(w io.Writer, rep *scenarios.Report) {
	devices := 0
	var left []string
	for _, s := range rep.Scenarios {
		devices += len(s.Devices)
		for _, l := range s.Leftovers {
			left = append(left, s.Name+": "+l)
		}
	}
	if devices > 0 {
		fmt.Fprintf(w, "\nRegistered %s on %s, described \"paragon scenario NAME (run ID)\"; --report json=FILE lists them so they can be removed.\n",
			plural(devices, "device", "devices"), rep.Target)
	}
	if len(left) > 0 {
		fmt.Fprintf(w, "Left on the server (could not be removed):\n")
		for _, l := range left {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
}
