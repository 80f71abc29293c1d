package server

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
)

// familyServer is a server whose account has users u0..u{n-1} (no
// passwords) and whose key lets anyone log in by user name, so that a login
// costs no bcrypt and what is measured is the server's own state work.
func familyServer(b *testing.B, users int) *Server {
	a := DemoAccount()
	a.Keys[0].AllowUntrusted = true
	a.Keys[0].AllowUnauthenticated = true
	a.Users = nil
	for i := range users {
		a.Users = append(a.Users, User{Username: "u" + strconv.Itoa(i)})
	}
	return newTestServer(b, func(o *Options) { o.Account = a })
}

// usernameLogin is GET /api/v1/login?authtype=3&userid=USER.
func usernameLogin(b *testing.B, s *Server, user string) {
	r := httptest.NewRequest("GET", "/api/v1/login?authtype=3&userid="+user, nil)
	r.Header.Set("X-Api-Key", testKey)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		b.Fatal(w.Code, w.Body.String())
	}
}

// fillFamilies logs n families in, 1,000 per user from u0 on. The bound
// on families per user is lifted meanwhile (nobody reaches it), so that
// filling costs the same whatever the bound costs.
func fillFamilies(b *testing.B, s *Server, n int) {
	s.maxFamilies = n + 1
	for i := range n {
		usernameLogin(b, s, "u"+strconv.Itoa(i/maxFamiliesPerOwner))
	}
	s.maxFamilies = maxFamiliesPerOwner
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkFamilyMemory reports the heap bytes one live token family costs
// (bytes/family): 100,000 logins (100 users with 1,000 each; one access and
// one refresh token per family), measured with runtime.ReadMemStats after
// runtime.GC, then the same after one refresh of every family
// (bytes/family-refreshed: two access tokens, a spent and a live refresh
// token). Each iteration builds a fresh server; run it with -benchtime 1x:
//
//	go test -run '^$' -bench FamilyMemory -benchtime 1x ./server/
func BenchmarkFamilyMemory(b *testing.B) {
	const n = 100000
	for b.Loop() {
		b.StopTimer()
		s := familyServer(b, n/maxFamiliesPerOwner)
		s.maxFamilies = n + 1 // nobody reaches it; see fillFamilies
		before := heapInUse()
		b.StartTimer()
		var rts []string
		for i := range n {
			r := httptest.NewRequest("GET", "/api/v1/login?authtype=3&userid=u"+strconv.Itoa(i/maxFamiliesPerOwner), nil)
			r.Header.Set("X-Api-Key", testKey)
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatal(w.Code, w.Body.String())
			}
			rts = append(rts, resp{Code: w.Code, Body: w.Body.Bytes()}.json(b)["token"].(map[string]any)["refresh_token"].(string))
		}
		b.StopTimer()
		tokens := uint64(len(rts)) * 44 // the test's own copies of the refresh tokens
		after := heapInUse()
		b.ReportMetric(float64(after-before-tokens)/n, "bytes/family")
		for i, rt := range rts {
			r := refresh(b, s, "api", rt)
			if r.Code != http.StatusOK {
				b.Fatal(r.Code, string(r.Body))
			}
			rts[i] = ""
		}
		refreshed := heapInUse()
		b.ReportMetric(float64(refreshed-before)/n, "bytes/family-refreshed")
		runtime.KeepAlive(rts)
		runtime.KeepAlive(s)
		s.Close()
		b.StartTimer()
	}
}

// BenchmarkLoginFamilies is a login (by user name: no bcrypt) of a user who
// already has the maximum of 1,000 token families, so that every login ends
// the user's oldest family, on a server holding 1,000, 10,000 or 100,000
// families in all. The rate should not depend on the other users' logins.
//
//	go test -run '^$' -bench LoginFamilies ./server/
func BenchmarkLoginFamilies(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run("families="+strconv.Itoa(n), func(b *testing.B) {
			s := familyServer(b, n/maxFamiliesPerOwner)
			fillFamilies(b, s, n)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				usernameLogin(b, s, "u0")
			}
		})
	}
}
