// Command cmdtime times two commands as whole processes, alternating them
// (A B, then B A, ...) so that a change in the machine's load falls on both
// alike, and prints each median and the ratio B/A. bench/cli.sh uses it to
// compare `paragon api` with curl.
//
//	go run ./bench/cmdtime -runs 50 -a curl -b paragon -- curl -sf URL -- paragon api GET /path
//
// Each command runs with its output discarded; a failing run stops the
// benchmark. With -max-ratio R it exits 1 when the ratio is above R.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"time"
)

func main() {
	runs := flag.Int("runs", 50, "timed runs of each command")
	warmup := flag.Int("warmup", 3, "untimed runs of each command first")
	nameA := flag.String("a", "A", "name of the first command (the baseline)")
	nameB := flag.String("b", "B", "name of the second command")
	maxRatio := flag.Float64("max-ratio", 0, "exit 1 when B/A is above this (0: no limit)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: cmdtime [flags] -- COMMAND A... -- COMMAND B...")
		flag.PrintDefaults()
	}
	flag.Parse()
	a, b, err := split(flag.Args())
	if err != nil || *runs < 1 {
		flag.Usage()
		os.Exit(2)
	}
	med, err := compare(a, b, *warmup, *runs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cmdtime:", err)
		os.Exit(1)
	}
	ratio := float64(med[1]) / float64(med[0])
	fmt.Printf("%-46s %8.2f ms\n", *nameA, ms(med[0]))
	fmt.Printf("%-46s %8.2f ms\n", *nameB, ms(med[1]))
	fmt.Printf("ratio: %s takes %.2fx the time of %s (medians of %d alternating runs each)\n", *nameB, ratio, *nameA, *runs)
	if *maxRatio > 0 && ratio > *maxRatio {
		fmt.Fprintf(os.Stderr, "cmdtime: ratio %.2f is above the target %.2f\n", ratio, *maxRatio)
		os.Exit(1)
	}
}

// split parses "-- A... -- B..." (the first "--" is taken by package flag).
func split(args []string) (a, b []string, err error) {
	i := slices.Index(args, "--")
	if i <= 0 || i == len(args)-1 {
		return nil, nil, errors.New("want two commands separated by --")
	}
	return args[:i], args[i+1:], nil
}

// compare runs a and b warmup times each, then runs times each in
// alternating order, and returns both medians.
func compare(a, b []string, warmup, runs int) ([2]time.Duration, error) {
	cmds := [2][]string{a, b}
	for range warmup {
		for _, c := range cmds {
			if _, err := run(c); err != nil {
				return [2]time.Duration{}, err
			}
		}
	}
	var times [2][]time.Duration
	for i := range runs {
		order := []int{0, 1}
		if i%2 == 1 {
			order = []int{1, 0}
		}
		for _, k := range order {
			d, err := run(cmds[k])
			if err != nil {
				return [2]time.Duration{}, err
			}
			times[k] = append(times[k], d)
		}
	}
	return [2]time.Duration{median(times[0]), median(times[1])}, nil
}

// run times one process from start to exit.
func run(argv []string) (time.Duration, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s: %w", argv[0], err)
	}
	return time.Since(start), nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
