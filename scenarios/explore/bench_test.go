package explore

import (
	"context"
	"testing"
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
