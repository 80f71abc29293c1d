package scenarios

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkSuite runs the whole built-in suite against the embedded
// reference server with 1, 2 and 4 workers, reporting wall time, the
// process's CPU time per run and, on Linux, how long its threads waited
// for a CPU that other processes held (runq-wait-ms/op):
//
//	go test -run '^$' -bench Suite -benchtime 20x ./scenarios/
func BenchmarkSuite(b *testing.B) {
	list, err := Builtin()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := sharedRSAKey(); err != nil { // generated once per process; not what is measured
		b.Fatal(err)
	}
	for _, p := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("parallel-%d", p), func(b *testing.B) {
			cpu := processCPU()
			wait, waitOK := runqueueWait()
			for b.Loop() {
				rep, err := Run(context.Background(), list, RunOptions{Parallel: p})
				if err != nil {
					b.Fatal(err)
				}
				if c := rep.Counts(); c[Passed] != len(list) {
					b.Fatalf("not all passed: %v", c)
				}
			}
			b.ReportMetric(float64(len(list)), "scenarios")
			// CPU time shows the work apart from how busy the machine is
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
			if w, ok := runqueueWait(); ok && waitOK {
				b.ReportMetric(float64(w-wait)/float64(b.N)/1e6, "runq-wait-ms/op")
			}
		})
	}
}
