package server

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// BenchmarkBoltLoginRefresh measures a password login plus one refresh on a
// bbolt state file (each one fsynced in the write-ahead log) and reports the
// file size (after a restart, which writes the log into the file). Run it
// with -benchtime 100000x for the 100,000-login figure:
//
//	go test -run '^$' -bench BoltLoginRefresh -benchtime 100000x ./server/
//
// After the b.N logins it moves the fake clock past the refresh lifetime,
// sweeps, and runs b.N more logins, reporting the size after each round
// ("MB-round1", "MB-round2"; "MBused-*" is the used part, bbolt grows the
// file in power-of-two steps): the second round reuses the pages the sweep
// freed instead of doubling the file. With PARAGON_BENCH_NOSYNC=1 the commits
// skip fsync, which changes the timing but not the file's contents; use it
// for the 100,000-login size measurement on a slow disk.
func BenchmarkBoltLoginRefresh(b *testing.B) {
	path := filepath.Join(b.TempDir(), "state.db")
	var st *BoltStore
	var s *Server
	// open (re)starts the server on the file: closing it writes the
	// write-ahead log into the file, whose size is then measured.
	open := func() {
		if s != nil {
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
		}
		var err error
		st, err = openBoltStore(path, BoltOptions{}, func(s *BoltStore) { s.noSync = os.Getenv("PARAGON_BENCH_NOSYNC") == "1" })
		if err != nil {
			b.Fatal(err)
		}
		a := DemoAccount()
		a.Keys[0].AllowUntrusted = true
		s, err = New(Options{Account: a, PasswordCost: bcrypt.MinCost, FakeClock: true, AdminToken: "admin-secret", Store: st})
		if err != nil {
			b.Fatal(err)
		}
	}
	open()
	defer func() { _ = s.Close() }()
	round := func() {
		for i := 0; i < b.N; i++ {
			r := login(b, s, "", pw("alice", "wonderland"))
			if r.Code != http.StatusOK {
				b.Fatal(r.Code, string(r.Body))
			}
			rt := r.json(b)["token"].(map[string]any)["refresh_token"].(string)
			if r := refresh(b, s, "api", rt); r.Code != http.StatusOK {
				b.Fatal(r.Code, string(r.Body))
			}
		}
	}
	size := func() float64 {
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		return float64(fi.Size()) / 1e6
	}
	b.ResetTimer()
	round()
	b.StopTimer()
	open()
	size1, data1 := size(), float64(st.DataSize())/1e6
	records := st.Len()
	advance(b, s, 2160*time.Hour+time.Minute)
	if err := s.Sweep(); err != nil {
		b.Fatal(err)
	}
	swept := st.Len()
	b.StartTimer()
	round()
	b.StopTimer()
	open()
	b.ReportMetric(size1, "MB-round1")
	b.ReportMetric(size(), "MB-round2")
	b.ReportMetric(data1, "MBused-round1")
	b.ReportMetric(float64(st.DataSize())/1e6, "MBused-round2")
	b.ReportMetric(float64(records), "records-round1")
	b.ReportMetric(float64(swept), "records-swept")
}
