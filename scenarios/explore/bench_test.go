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
			for range b.N {
				found, files := 0, 0
				var times []float64
				for seed := uint64(1); seed <= 10; seed++ {
					res, err := Explore(context.Background(), Options{Target: embedded(b, v.wrap), Seed: seed, Duration: 60 * time.Second, Concurrency: v.concurrency})
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
					want := scenarios.Failed
					if viol.Warning {
						want = scenarios.Warning
					}
					list, err := scenarios.Parse("explore-failure.yaml", viol.Scenario)
					if err == nil && replayTries(b, list, v.wrap, v.concurrency, want) == want && replay(b, list, nil) == scenarios.Passed {
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
		})
	}
}
