package explore

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paragon-cli/paragon/scenarios"
)

// BenchmarkExploreSequential measures sequential operations per second
// against the embedded reference server (one operation per b.N).
func BenchmarkExploreSequential(b *testing.B) {
	t := embedded(b, nil)
	b.ResetTimer()
	res, err := Explore(context.Background(), Options{Target: t, Seed: 1, Steps: b.N})
	if err != nil {
		b.Fatal(err)
	}
	if res.Violation != nil {
		b.Fatalf("violation: %s", res.Violation.Rule)
	}
	b.ReportMetric(float64(res.Ops)/res.Elapsed.Seconds(), "ops/s")
}

// BenchmarkFindVariants explores each broken variant with seeds 1 to 10,
// at most 60 s each, and reports how many seeds found it (and wrote a
// scenario that fails against the variant and passes against the reference
// server) and how long finding took. Run it once:
//
//	go test -run '^$' -bench FindVariants -benchtime 1x -timeout 60m ./scenarios/explore/
func BenchmarkFindVariants(b *testing.B) {
	for _, v := range variants {
		b.Run(strings.ReplaceAll(v.name, " ", "_"), func(b *testing.B) {
			findSeeds(b, v.concurrency, func() (Target, func([]*scenarios.Scenario) scenarios.Status, func([]*scenarios.Scenario) scenarios.Status) {
				return embedded(b, v.wrap),
					func(list []*scenarios.Scenario) scenarios.Status { return replay(b, list, v.wrap) },
					func(list []*scenarios.Scenario) scenarios.Status { return replay(b, list, nil) }
			})
		})
	}
}

// BenchmarkFindDeclaredVariants does the same behind a target file: the
// variant served over HTTP, explored without its admin API, the file
// replayed as `scenario run --target` does.
//
//	go test -run '^$' -bench FindDeclaredVariants -benchtime 1x -timeout 60m ./scenarios/explore/
func BenchmarkFindDeclaredVariants(b *testing.B) {
	for _, v := range declaredVariants {
		b.Run(strings.ReplaceAll(v.name, " ", "_"), func(b *testing.B) {
			findSeeds(b, v.concurrency, func() (Target, func([]*scenarios.Scenario) scenarios.Status, func([]*scenarios.Scenario) scenarios.Status) {
				hs, _ := declaredServer(b, v.wrap, false)
				good, _ := declaredServer(b, nil, false)
				decl := targetFile(b, hs.URL, false, "")
				return declared(hs, decl),
					func(list []*scenarios.Scenario) scenarios.Status { return replayDeclared(b, list, hs, decl) },
					func(list []*scenarios.Scenario) scenarios.Status {
						return replayDeclared(b, list, good, targetFile(b, good.URL, false, ""))
					}
			})
		})
	}
}

// findSeeds explores seeds 1 to 10 of one variant, each on a target setup
// gives with its replays against the variant and the reference server, and
// reports how many found it, how many files held, and how long it took.
func findSeeds(b *testing.B, concurrency int, setup func() (Target, func([]*scenarios.Scenario) scenarios.Status, func([]*scenarios.Scenario) scenarios.Status)) {
	for range b.N {
		found, files := 0, 0
		var times []float64
		for seed := uint64(1); seed <= 10; seed++ {
			target, replayBad, replayGood := setup()
			res, err := Explore(context.Background(), Options{Target: target, Seed: seed, Duration: 60 * time.Second, Concurrency: concurrency})
			if err != nil {
				b.Fatal(err)
			}
			viol := res.Violation
			if viol == nil {
				b.Logf("seed %d: not found in %d operations", seed, res.Ops)
				continue
			}
			found++
			times = append(times, res.Elapsed.Seconds())
			list, want := parseViolation(b, viol)
			if tries(concurrency, want, func() scenarios.Status { return replayBad(list) }) == want && replayGood(list) == scenarios.Passed {
				files++
			}
		}
		slices.Sort(times)
		b.ReportMetric(float64(found), "found/10")
		b.ReportMetric(float64(files), "files-ok/10")
		if len(times) > 0 {
			b.ReportMetric(times[len(times)/2], "median-s")
			b.ReportMetric(times[len(times)-1], "max-s")
		}
	}
}
