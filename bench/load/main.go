// Command load is the HTTP load generator of bench/server.sh and
// bench/refresh.sh: it sends GET requests to one URL from a fixed number of
// keep-alive connections for a fixed time and prints the request rate and
// latency percentiles.
//
//	go run ./bench/load -url http://127.0.0.1:7300/api/v1/version \
//	    -H 'X-Api-Key: paragon-dev-key' -H 'Authorization: Bearer TOKEN' -c 32 -d 5s
//
// With -refresh KEY:USER:PASSWORD, -url is a paragon server's base URL and
// each connection logs USER in (POST /api/v1/login with the API key KEY),
// then rotates its refresh token again and again (POST /oauth/v1/token,
// grant_type refresh_token), each request with the token the previous
// answer gave.
//
// The last line of its output is machine-readable:
//
//	result label=NAME requests=N errors=E rps=R p50_ms=X p99_ms=Y total=T
//
// where T counts the warm-up's requests too (every request the target
// served, for dividing its CPU time).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
	refresh := flag.String("refresh", "", "`KEY:USER:PASSWORD`: log in, then refresh tokens (see above)")
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

	warmed := 0
	workers := make([]worker, *conc)
	for i := range workers {
		if *refresh == "" {
			workers[i] = getter{url: *target, header: header}
			continue
		}
		key, user, ok := strings.Cut(*refresh, ":")
		user, password, ok2 := strings.Cut(user, ":")
		if !ok || !ok2 {
			return errors.New("-refresh must be KEY:USER:PASSWORD")
		}
		r, err := login(client, *target, key, user, password)
		if err != nil {
			return err
		}
		workers[i] = r
	}
	if *warm > 0 {
		for _, s := range hammer(client, workers, *warm) {
			warmed += len(s.latencies) + s.errors
		}
	}
	start := time.Now()
	all := hammer(client, workers, *dur)
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
	fmt.Printf("result label=%s requests=%d errors=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f total=%d\n",
		*label, len(lat), errs, rps, ms(pct(0.50)), ms(pct(0.99)), warmed+len(lat)+errs)
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// worker makes one connection's requests and reads their answers.
type worker interface {
	request() *http.Request
	answered(body []byte) error
}

// getter GETs one URL.
type getter struct {
	url    string
	header http.Header
}

func (g getter) request() *http.Request {
	req, _ := http.NewRequest("GET", g.url, nil)
	req.Header = g.header.Clone()
	return req
}

func (getter) answered([]byte) error { return nil }

// refresher rotates one login's refresh token.
type refresher struct {
	base, key, token string
}

// login logs user in and returns a refresher of the login's token.
func login(client *http.Client, base, key, user, password string) (*refresher, error) {
	form := url.Values{"authtype": {"0"}, "userid": {user}, "password": {password}}
	req, _ := http.NewRequest("POST", base+"/api/v1/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Api-Key", key)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var a struct {
		Token struct {
			RefreshToken string `json:"refresh_token"`
		} `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != http.StatusOK || a.Token.RefreshToken == "" {
		return nil, fmt.Errorf("login of %s: status %d", user, resp.StatusCode)
	}
	return &refresher{base: base, key: key, token: a.Token.RefreshToken}, nil
}

func (r *refresher) request() *http.Request {
	form := url.Values{"client_id": {"api"}, "client_secret": {r.key}, "grant_type": {"refresh_token"}, "refresh_token": {r.token}}
	req, _ := http.NewRequest("POST", r.base+"/oauth/v1/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func (r *refresher) answered(body []byte) error {
	var a struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(body, &a); err != nil || a.RefreshToken == "" {
		return errors.New("the answer has no refresh_token")
	}
	r.token = a.RefreshToken
	return nil
}

// hammer runs the workers, each sending requests back to back, for d.
func hammer(client *http.Client, workers []worker, d time.Duration) []stats {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	out := make([]stats, len(workers))
	var wg sync.WaitGroup
	for i, w := range workers {
		wg.Add(1)
		go func(s *stats) {
			defer wg.Done()
			for ctx.Err() == nil {
				req := w.request()
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					var body []byte
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
					if err == nil {
						err = w.answered(body)
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
