//go:build race

package explore

// raceEnabled: the race detector slows every request several times, so the
// tests explore less (the benchmarks measure the full figures).
const raceEnabled = true
