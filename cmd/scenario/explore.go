package scenario

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/paragon-cli/paragon/cmd/internal/cmdutil"
	"github.com/paragon-cli/paragon/cmd/internal/iostreams"
	"github.com/paragon-cli/paragon/scenarios"
	"github.com/paragon-cli/paragon/scenarios/explore"
	"github.com/paragon-cli/paragon/scenarios/report"
)

// ExploreOptions is what `paragon scenario explore` needs.
type ExploreOptions struct {
	IO *iostreams.IOStreams

	Server       string
	OAuthURL     string
	APIKey       string
	AdminURL     string
	AdminToken   string
	SecondAPIKey string
	// Target is the --target file: a server explored without an admin
	// API, as it declares it (nil: none).
	Target     *scenarios.TargetFile
	TargetPath string

	Seed        uint64
	SeedGiven   bool
	Duration    time.Duration
	Steps       int
	Concurrency int
	Out         string
	Strict      bool
	Reports     []ReportSpec

	HTTPClient func() (*http.Client, error)
}

// NewCmdExplore returns `paragon scenario explore`. runF replaces the run
// function in tests.
func NewCmdExplore(f *cmdutil.Factory, runF func(context.Context, *ExploreOptions) error) *cobra.Command {
	opts := &ExploreOptions{
		IO:         f.IOStreams,
		HTTPClient: func() (*http.Client, error) { return f.HTTPClient("") },
	}
	var reports []string
	sf := serverFlags{&opts.Server, &opts.OAuthURL, &opts.APIKey, nil, &opts.AdminURL, &opts.AdminToken, &opts.SecondAPIKey}
	cmd := &cobra.Command{
		Use:   "explore",
		Short: "Find protocol bugs with random walks checked against a model of the contract",
		Long: `Take random walks over the protocol (register devices, poll, approve,
log in with each kind of credential, refresh with current, spent and foreign
tokens, call a function, move the fake clock, revoke, forget, and now and
then a request with a wrong or missing key or signature), weighted
towards reuse, expiry edges and re-registration, and check every answer
against a model of the contract written independently of the reference
server. The server is reset before every walk.

On a violation, the walk is shrunk to a short one that still breaks the same
rule and written as a scenario file (--out) that 'paragon scenario run FILE'
replays. A rule the contract marks [ours] is a WARNING, as in the suite.
The seed is printed: the same seed against the same server explores the same
walks.

With --concurrency C > 1, some refreshes are sent from C connections at the
same instant (the same token again, as a client that retries, or a call with
the family's newest access token), and the answers are checked for
linearizability against the model: two successful refreshes of one token
are a violation. The walks then differ from run to run. A race is shrunk
too and written as a step sent concurrently; since it shows only when the
requests overlap, its file may need a run or two to fail.

It needs the reference server's admin API: the embedded server (default), or
--server with --admin-url and --admin-token; or --target FILE.

--target FILE explores a server it cannot configure (a vendor tenant, a
staging install), described by a target file as for 'scenario run --target'
(see docs/real-servers.md): the walks start from the lifetimes, the default
key's switches and the users it declares, and send only what a client may
(register, poll, log in, refresh, call); devices are approved only by its
approval_command or trusted by a key with automatic trust. Nothing is reset,
no clock moves and nothing waits for real: each walk (and each replay while
shrinking) registers devices of its own and logs in anew, and ends before
the shortest lifetime could. What it cannot explore there is listed at the
end. The scenario file it writes replays with 'paragon scenario run --target
FILE'.

Exit status: 0 no violation (warnings allowed unless --strict), 1 a
violation, 2 a usage mistake or an admin token the admin API refuses, 3 the
target could not be reached.`,
		Example: `  # ten seconds against the embedded reference server
  $ paragon scenario explore

  # a million operations, a fixed seed
  $ paragon scenario explore --seed 42 --steps 1000000

  # refreshes from 4 connections at once, checked for linearizability
  $ paragon scenario explore --concurrency 4 --duration 1m

  # an outside reference server with its admin API, JUnit for CI
  $ paragon scenario explore --server http://127.0.0.1:7300 \
      --admin-url http://127.0.0.1:7300 --admin-token "$TOKEN" --duration 1m \
      --report junit=explore.xml

  # a server described by a target file, without its admin API
  $ paragon scenario explore --target qa-target.yaml --steps 20000
  $ paragon scenario run --target qa-target.yaml explore-failure.yaml

  # replay what it found
  $ paragon scenario run explore-failure.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			if err := readExploreTarget(fl, opts); err != nil {
				return err
			}
			if err := sf.resolve(fl, "explore runs against the embedded reference server", opts.IO.ErrOut); err != nil {
				return err
			}
			if opts.Target != nil {
				// the keys come from the target file; there is no admin API
				opts.APIKey, opts.AdminURL, opts.AdminToken = "", "", ""
			}
			if opts.Server != "" && opts.Target == nil && (opts.AdminURL == "" || opts.AdminToken == "") {
				return cmdutil.FlagErrorf("explore drives the server through the reference server's admin API: give --admin-url and --admin-token (or PARAGON_ADMIN_TOKEN) with --server")
			}
			if opts.Steps < 0 {
				return cmdutil.FlagErrorf("--steps must be at least 1, got %d", opts.Steps)
			}
			if opts.Duration < 0 {
				return cmdutil.FlagErrorf("--duration must be positive, got %s", opts.Duration)
			}
			if !fl.Changed("duration") && !fl.Changed("steps") {
				opts.Duration = 10 * time.Second
			}
			if opts.Concurrency < 1 {
				return cmdutil.FlagErrorf("--concurrency must be at least 1, got %d", opts.Concurrency)
			}
			if opts.Out == "" {
				return cmdutil.FlagErrorf("--out needs a file name")
			}
			opts.SeedGiven = fl.Changed("seed")
			specs, err := parseReports(reports)
			if err != nil {
				return cmdutil.FlagErrorf("%v", err)
			}
			opts.Reports = specs
			run := runExplore
			if runF != nil {
				run = runF
			}
			return run(cmd.Context(), opts)
		},
	}
	addExploreFlags(cmd, opts, sf, &reports)
	return cmd
}

// addExploreFlags defines explore's flags.
func addExploreFlags(cmd *cobra.Command, opts *ExploreOptions, sf serverFlags, reports *[]string) {
	fl := cmd.Flags()
	sf.add(fl, "Explore the server at `URL` (its API root) instead of the embedded one",
		"Root `URL` of the reference server's admin API (needed with --server)",
		"Another active API `KEY` of the account, to check that user tokens are bound to their key")
	fl.StringVar(&opts.TargetPath, "target", "", "Target `FILE` (YAML) declaring the keys, users and lifetimes of a server to explore without its admin API (see docs/real-servers.md)")
	fl.Uint64Var(&opts.Seed, "seed", 0, "Seed `N` of the random walks (default: a random one, printed)")
	fl.DurationVar(&opts.Duration, "duration", 0, "Explore for this `DURATION`, such as 30s or 2m (default 10s when --steps is not given)")
	fl.IntVar(&opts.Steps, "steps", 0, "Send at most `N` operations")
	fl.IntVar(&opts.Concurrency, "concurrency", 1, "Send some refreshes from `C` connections at the same instant and check linearizability")
	fl.StringVar(&opts.Out, "out", "explore-failure.yaml", "Write the shrunk failing walk to this scenario `FILE`")
	fl.BoolVar(&opts.Strict, "strict", false, "A warning (a broken [ours] rule) fails the run")
	fl.StringArrayVar(reports, "report", nil, "Also write a report, as `FORMAT=FILE`: html, junit, json or tap; FILE - is stdout for json and tap (repeatable)")
	_ = cmd.RegisterFlagCompletionFunc("report", completeReport)
}

func runExplore(ctx context.Context, opts *ExploreOptions) error {
	ios := opts.IO
	if err := prepareReportDirs(opts.Reports); err != nil {
		return err
	}
	if !opts.SeedGiven {
		var b [8]byte
		_, _ = rand.Read(b[:])
		opts.Seed = binary.LittleEndian.Uint64(b[:]) >> 1
	}
	var t explore.Target
	var secrets []string
	targetName := "embedded reference server"
	where := "the embedded reference server"
	switch {
	case opts.Target != nil:
		hc, err := opts.HTTPClient()
		if err != nil {
			return err
		}
		decl := opts.Target.Declared
		oauth := opts.OAuthURL
		if oauth == "" {
			oauth = opts.Server
		}
		def, second, _ := explore.DeclaredKeys(decl)
		t = explore.Target{Client: hc, BaseURL: opts.Server, OAuthURL: oauth, APIKey: def, SecondAPIKey: second, Declared: decl}
		secrets = decl.Secrets()
		targetName = opts.Server + " as " + opts.TargetPath + " declares it"
		where = "the server at " + targetName
	case opts.Server == "":
		es, err := scenarios.NewEmbeddedServer(nil)
		if err != nil {
			return err
		}
		defer es.Close()
		b := scenarios.EmbeddedBaseURL
		t = explore.Target{Client: es.Client, BaseURL: b, OAuthURL: b, AdminURL: b, APIKey: scenarios.DemoAPIKey,
			SecondAPIKey: scenarios.EmbeddedSecondAPIKey, AdminToken: es.AdminToken}
	default:
		hc, err := opts.HTTPClient()
		if err != nil {
			return err
		}
		key := opts.APIKey
		if key == "" {
			key = scenarios.DemoAPIKey
		}
		oauth := opts.OAuthURL
		if oauth == "" {
			oauth = opts.Server
		}
		t = explore.Target{Client: hc, BaseURL: opts.Server, OAuthURL: oauth, AdminURL: opts.AdminURL, APIKey: key, SecondAPIKey: opts.SecondAPIKey, AdminToken: opts.AdminToken}
		secrets = []string{opts.APIKey, opts.AdminToken, opts.SecondAPIKey}
		targetName = opts.Server
		where = "the server at " + opts.Server
	}
	budget := opts.Duration.String()
	if opts.Steps > 0 {
		budget = fmt.Sprintf("%d operations", opts.Steps)
		if opts.Duration > 0 {
			budget += " or " + opts.Duration.String()
		}
	}
	conc := ""
	if opts.Concurrency > 1 {
		conc = fmt.Sprintf(", concurrency %d", opts.Concurrency)
	}
	fmt.Fprintf(ios.ErrOut, "exploring %s with seed %d for %s%s\n", where, opts.Seed, budget, conc)
	res, err := explore.Explore(ctx, explore.Options{
		Target: t, Seed: opts.Seed, Steps: opts.Steps, Duration: opts.Duration, Concurrency: opts.Concurrency,
		ProgressEvery: progressEvery(ios),
		OnProgress: func(p explore.Progress) {
			fmt.Fprintf(ios.ErrOut, "%6.1fs  %d operations, %d walks, %d states, %d violations\n",
				p.Elapsed.Seconds(), p.Ops, p.Walks, p.States, p.Violations)
		},
	})
	// Ctrl-C or SIGTERM: whatever failed, the run was interrupted (exit 130)
	interrupted := ctx.Err() != nil
	if interrupted && res == nil {
		return ctx.Err()
	}
	if err != nil && res == nil {
		return exploreError(scrub(err, secrets), opts)
	}
	if err != nil && !interrupted {
		return exploreError(scrub(err, secrets), opts)
	}
	w := ios.Out // people read it on stdout, unless a report took it
	for _, r := range opts.Reports {
		if r.Path == "-" {
			w = ios.ErrOut
		}
	}
	fmt.Fprintf(w, "seed %d: %d operations in %d walks, %.1fs (%.0f operations/s), %d distinct model states\n",
		res.Seed, res.Ops, res.Walks, res.Elapsed.Seconds(), float64(res.Ops)/max(res.Elapsed.Seconds(), 1e-9), res.States)
	fmt.Fprintln(w, "\noperations and answers:")
	for _, l := range res.CoverageLines() {
		fmt.Fprintln(w, "  "+l)
	}
	fmt.Fprintln(w, "\nmodel states reached:")
	fmt.Fprintln(w, "  "+strings.Join(res.Reached, ", "))
	if len(res.Impossible) > 0 {
		fmt.Fprintln(w, "\nnot explored on this target:")
		for _, l := range res.Impossible {
			fmt.Fprintln(w, "  "+l)
		}
	}
	if res.Devices > 0 {
		fmt.Fprintf(w, "\nregistered %s on %s, described %q; nothing resets them: remove them on the server\n",
			plural(res.Devices, "device", "devices"), opts.Server, explore.DeviceDescription(res.Seed))
	}
	rep := exploreReport(res, targetName)
	v := res.Violation
	if v != nil {
		kind := "VIOLATION"
		if v.Warning {
			kind = "WARNING ([ours] rule)"
		}
		fmt.Fprintf(w, "\n%s\n  rule: %s\n  step %d: %s\n  expected %s, got %s\n", kind, v.Rule, v.Step, v.Op, v.Expected, v.Got)
		if v.NotReproduced {
			fmt.Fprintf(w, "  it did not happen again when the walk was replayed alone (a race?): no scenario file written\n")
		} else {
			if werr := writeFileAtomic(opts.Out, func(out io.Writer) error { _, err := out.Write(v.Scenario); return err }); werr != nil {
				return fmt.Errorf("--out: %w", werr)
			}
			replay := "paragon scenario run " + opts.Out
			if opts.Target != nil {
				replay = "paragon scenario run --target " + opts.TargetPath + " " + opts.Out
			}
			fmt.Fprintf(w, "  shrunk from %d operations to %d: %s\n  replay: %s\n", v.Original, len(v.Walk.Ops), opts.Out, replay)
		}
	} else {
		fmt.Fprintln(w, "\nno violation found")
	}
	rep = report.Redact(rep, secrets...)
	if werr := writeReports(&RunOptions{IO: ios, Reports: opts.Reports}, rep); werr != nil {
		return werr
	}
	if interrupted {
		return ctx.Err()
	}
	if !report.Judge(rep, report.Policy{Strict: opts.Strict}).OK() {
		return &cmdutil.ExitError{Code: cmdutil.ExitFailure}
	}
	return nil
}

// exploreReport represents the exploration as a report of one scenario:
// PASSED, or the violation as a FAILED (WARNING) step.
func exploreReport(res *explore.Result, target string) *scenarios.Report {
	name := fmt.Sprintf("explore-seed-%d", res.Seed)
	sr := scenarios.ScenarioResult{Name: name, File: "explore", Description: fmt.Sprintf("%d random operations in %d walks", res.Ops, res.Walks),
		Severity: scenarios.SeverityFailure, Status: scenarios.Passed, Duration: res.Elapsed, Tags: []string{"explore"}}
	if v := res.Violation; v != nil {
		sr.Rule = v.Rule
		sr.Status = scenarios.Failed
		if v.Warning {
			sr.Status, sr.Severity = scenarios.Warning, scenarios.SeverityWarning
		}
		sr.Steps = []scenarios.StepResult{{Name: fmt.Sprintf("%d: %s", v.Step, v.Op), Status: sr.Status,
			Failures: []scenarios.Failure{{Expectation: v.Rule, Expected: v.Expected, Actual: v.Got.String()}}}}
	}
	return &scenarios.Report{Target: target, Started: time.Now().Add(-res.Elapsed), Duration: res.Elapsed, Scenarios: []scenarios.ScenarioResult{sr}}
}

// exploreError gives an error that kept the exploration from running its
// exit code: 3 unreachable, 2 admin token refused.
func exploreError(err error, opts *ExploreOptions) error {
	var se *explore.SendError
	var kre *explore.KeyRefusedError
	switch {
	case errors.As(err, &kre):
		return &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: fmt.Errorf("%w\ncheck keys.%s in %s: it must be an active API key of the server's account, allowed from this address", err, kre.Name, opts.TargetPath)}
	case errors.As(err, &se):
		check := "--server, --oauth-url and --admin-url"
		if opts.Target != nil {
			check = "server and oauth_url in " + opts.TargetPath + " (or --server, --oauth-url)"
		}
		return &cmdutil.ExitError{Code: cmdutil.ExitUnreachable, Err: fmt.Errorf("cannot reach the server: %w\ncheck %s and that the server is running and reachable from here", err, check)}
	case errors.Is(err, explore.ErrAdminTokenRefused):
		return &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: fmt.Errorf("%w\ncheck --admin-token (or PARAGON_ADMIN_TOKEN): it must be the admin token the server printed at start", err)}
	}
	return err
}

// progressEvery is how often progress is printed: every second for a person
// at a terminal, every ten seconds into a CI log.
func progressEvery(ios *iostreams.IOStreams) time.Duration {
	if ios.IsStderrTTY() {
		return time.Second
	}
	return 10 * time.Second
}

// readExploreTarget reads --target for explore, as run reads it; explore
// then has no admin API, so --admin-url and --admin-token contradict it.
func readExploreTarget(fl *pflag.FlagSet, opts *ExploreOptions) error {
	if !fl.Changed("target") {
		return nil
	}
	for _, f := range []string{"admin-url", "admin-token"} {
		if fl.Changed(f) {
			return cmdutil.FlagErrorf("--%s contradicts --target %s: with --target, explore uses no admin API and only what the file declares; to explore through the admin API, leave out --target and give --server, --admin-url and --admin-token", f, opts.TargetPath)
		}
	}
	tf, err := readTargetFile(fl, opts.TargetPath, &opts.Server, &opts.OAuthURL)
	if err != nil {
		return err
	}
	if err := explore.CheckDeclared(tf.Declared); err != nil {
		return cmdutil.FlagErrorf("--target: %v", err)
	}
	opts.Target = tf
	return nil
}
