// Command load is the HTTP load generator of bench/server.sh: it sends GET
// requests to one URL from a fixed number of keep-alive connections for a
// fixed time and prints the request rate and latency percentiles.
//
//	go run ./bench/load -url http://127.0.0.1:7300/api/v1/version \
//	    -H 'X-Api-Key: paragon-dev-key' -H 'Authorization: Bearer TOKEN' -c 32 -d 5s
//
// The last line of its output is machine-readable:
//
//	result label=NAME requests=N errors=E rps=R p50_ms=X p99_ms=Y
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// headers collects repeated -H flags.
type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

// stats is what one worker measured.
type stats struct {
	latencies []time.Duration
	errors    int
	firstErr  string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run() error {
	var hdrs headers
	target := flag.String("url", "", "URL to GET (http://127.0.0.1 only)")
	conc := flag.Int("c", 32, "concurrent connections")
	dur := flag.Duration("d", 5*time.Second, "measured duration")
	warm := flag.Duration("warmup", time.Second, "unmeasured warm-up before the measured duration")
	label := flag.String("label", "load", "name printed with the result")
	flag.Var(&hdrs, "H", "request header `Name: value` (repeatable)")
	flag.Parse()
	if !strings.HasPrefix(*target, "http://127.0.0.1:") {
		return errors.New("-url must be http://127.0.0.1:PORT/...: the benchmark stays on this machine")
	}
	if *conc < 1 || *conc > 1024 || *dur <= 0 || *dur > time.Minute {
		return errors.New("-c must be 1..1024 and -d at most 1m")
	}
	header := http.Header{}
	for _, h := range hdrs {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			return fmt.Errorf("bad header %q: want Name: value", h)
		}
		header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	tr := &http.Transport{MaxIdleConns: *conc, MaxIdleConnsPerHost: *conc, MaxConnsPerHost: *conc, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	if *warm > 0 {
		hammer(client, *target, header, *conc, *warm)
	}
	start := time.Now()
	all := hammer(client, *target, header, *conc, *dur)
	elapsed := time.Since(start)

	var lat []time.Duration
	var errs int
	firstErr := ""
	for _, s := range all {
		lat = append(lat, s.latencies...)
		errs += s.errors
		if firstErr == "" {
			firstErr = s.firstErr
		}
	}
	if len(lat) == 0 {
		return fmt.Errorf("no successful request (%d errors; first: %s)", errs, firstErr)
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	rps := float64(len(lat)) / elapsed.Seconds()
	fmt.Printf("%s: %d requests in %.2fs with %d connections: %.0f req/s, p50 %v, p99 %v, max %v, %d errors\n",
		*label, len(lat), elapsed.Seconds(), *conc, rps, pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond), errs)
	if firstErr != "" {
		fmt.Printf("%s: first error: %s\n", *label, firstErr)
	}
	fmt.Printf("result label=%s requests=%d errors=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f\n",
		*label, len(lat), errs, rps, ms(pct(0.50)), ms(pct(0.99)))
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// hammer runs conc workers sending requests back to back for d.
func hammer(client *http.Client, target string, header http.Header, conc int, d time.Duration) []stats {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	out := make([]stats, conc)
	var wg sync.WaitGroup
	for i := range conc {
		wg.Add(1)
		go func(s *stats) {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequest("GET", target, nil)
				req.Header = header.Clone()
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					s.errors++
					if s.firstErr == "" {
						s.firstErr = err.Error()
					}
					continue
				}
				s.latencies = append(s.latencies, time.Since(t0))
			}
		}(&out[i])
	}
	wg.Wait()
	return out
}
