package server

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// gateStore is a MemoryStore whose commits wait at a gate the test opens,
// and fail while fail is set; loadFail makes Load fail.
type gateStore struct {
	*MemoryStore
	mu       sync.Mutex
	gate     chan struct{} // nil: commits pass at once
	entered  chan int      // gets the number of records of each commit that waits at the gate
	commits  []int         // records per commit
	fail     bool
	loadFail bool
}

func newGateStore() *gateStore {
	return &gateStore{MemoryStore: NewMemoryStore(), entered: make(chan int, 100)}
}

func (g *gateStore) close(gate chan struct{}) { g.mu.Lock(); g.gate = gate; g.mu.Unlock() }

func (g *gateStore) failing(commit, load bool) {
	g.mu.Lock()
	g.fail, g.loadFail = commit, load
	g.mu.Unlock()
}

func (g *gateStore) Commit(b Batch) error {
	g.mu.Lock()
	gate, fail := g.gate, g.fail
	g.commits = append(g.commits, len(b.Records))
	g.mu.Unlock()
	if gate != nil {
		g.entered <- len(b.Records)
		<-gate
	}
	g.mu.Lock()
	fail = fail || g.fail
	g.mu.Unlock()
	if fail {
		return errors.New("disk full")
	}
	return g.MemoryStore.Commit(b)
}

func (g *gateStore) Load(fn func(Record) error) error {
	g.mu.Lock()
	bad := g.loadFail
	g.mu.Unlock()
	if bad {
		return errors.New("I/O error")
	}
	return g.MemoryStore.Load(fn)
}

// recorder is a ResponseWriter that says whether anything was written.
type recorder struct {
	*httptest.ResponseRecorder
	mu      sync.Mutex
	written bool
}

func (r *recorder) WriteHeader(code int) {
	r.mu.Lock()
	r.written = true
	r.mu.Unlock()
	r.ResponseRecorder.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	r.written = true
	r.mu.Unlock()
	return r.ResponseRecorder.Write(b)
}

func (r *recorder) wasWritten() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.written }

// startRefresh sends a refresh in the background.
func startRefresh(s *Server, rt string, wg *sync.WaitGroup) *recorder {
	body := url.Values{"client_id": {"api"}, "client_secret": {testKey}, "grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()
	req := httptest.NewRequest("POST", "/oauth/v1/token", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := &recorder{ResponseRecorder: httptest.NewRecorder()}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.ServeHTTP(w, req)
	}()
	return w
}

// waitQueued waits until n changes were queued in all.
func waitQueued(t *testing.T, s *Server, n uint64) {
	t.Helper()
	for s.commits.queued.Load() < n {
		time.Sleep(time.Millisecond)
	}
}

// TestGroupCommit: changes made while a commit is on its way to the store
// are queued without waiting for it (the state lock is free) and go to the
// store together, in one commit; no answer goes out before the commit that
// holds its change, and what the answers hand out works afterwards.
func TestGroupCommit(t *testing.T) {
	st := newGateStore()
	s := newTestServer(t, withKey(func(k *Key) { k.AllowUntrusted = true }), func(o *Options) { o.Store = st })
	const n = 8
	var rts []string
	for range n {
		_, rt := userToken(t, s, "", "alice", "wonderland")
		rts = append(rts, rt)
	}
	base := s.commits.queued.Load()
	st.mu.Lock()
	st.commits = nil
	st.mu.Unlock()

	gate := make(chan struct{})
	st.close(gate)
	var wg sync.WaitGroup
	first := startRefresh(s, rts[0], &wg)
	<-st.entered // the first refresh's commit is at the disk
	if !s.mu.TryLock() {
		t.Fatal("the state lock is held during a commit")
	}
	s.mu.Unlock()
	var rest []*recorder
	for _, rt := range rts[1:] {
		rest = append(rest, startRefresh(s, rt, &wg))
	}
	waitQueued(t, s, base+n) // all eight changed the state in memory
	for i, w := range append([]*recorder{first}, rest...) {
		if w.wasWritten() {
			t.Errorf("refresh %d answered before its change was stored", i)
		}
	}
	st.close(nil)
	close(gate)
	wg.Wait()
	st.mu.Lock()
	commits := append([]int(nil), st.commits...)
	st.mu.Unlock()
	if len(commits) != 2 || commits[0] != 1 || commits[1] != n-1 {
		t.Errorf("commits of %v records, want one of 1 then one of %d", commits, n-1)
	}
	// What the answers gave out is stored: a server on the same store
	// accepts every new refresh token.
	s2 := newTestServer(t, withKey(func(k *Key) { k.AllowUntrusted = true }), func(o *Options) { o.Store = st.MemoryStore })
	for i, w := range append([]*recorder{first}, rest...) {
		if w.Code != 200 {
			t.Fatalf("refresh %d: %d %s", i, w.Code, w.Body)
		}
		rt := resp{Code: w.Code, Body: w.Body.Bytes()}.json(t)["refresh_token"].(string)
		if r := refresh(t, s2, "api", rt); r.Code != 200 {
			t.Errorf("refresh token %d after a restart: %d %s", i, r.Code, r.Body)
		}
	}
}

// TestGroupCommitFailure: when a commit fails, every change queued until
// then is dropped and the state reloaded from the store: the requests
// answer 503 and their refresh tokens can be used again, and what the store
// holds is what memory holds.
func TestGroupCommitFailure(t *testing.T) {
	st := newGateStore()
	s := newTestServer(t, withKey(func(k *Key) { k.AllowUntrusted = true }), func(o *Options) { o.Store = st })
	_, rt1 := userToken(t, s, "", "alice", "wonderland")
	_, rt2 := userToken(t, s, "", "bob", "builder")
	base := s.commits.queued.Load()

	gate := make(chan struct{})
	st.close(gate)
	st.failing(true, false)
	var wg sync.WaitGroup
	w1 := startRefresh(s, rt1, &wg)
	<-st.entered
	w2 := startRefresh(s, rt2, &wg) // queued behind the failing commit
	waitQueued(t, s, base+2)
	st.close(nil)
	close(gate)
	wg.Wait()
	st.failing(false, false)
	for i, w := range []*recorder{w1, w2} {
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), `"temporarily_unavailable"`) {
			t.Errorf("refresh %d with a failing store: %d %s", i, w.Code, w.Body)
		}
		if w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("refresh %d: Content-Type %q", i, w.Header().Get("Content-Type"))
		}
	}
	// Neither rotation happened: the same tokens refresh now, once.
	for i, rt := range []string{rt1, rt2} {
		if r := refresh(t, s, "api", rt); r.Code != 200 {
			t.Errorf("retrying refresh %d: %d %s", i, r.Code, r.Body)
		}
	}
}

// TestUnreadableStoreStopsServing: when, after a failed commit, the store
// cannot even be read back, memory may differ from the store: the server
// answers 503 to everything rather than serve either.
func TestUnreadableStoreStopsServing(t *testing.T) {
	st := newGateStore()
	s := newTestServer(t, withKey(func(k *Key) { k.AllowUntrusted = true }), func(o *Options) { o.Store = st })
	at, rt := userToken(t, s, "", "alice", "wonderland")
	st.failing(true, true)
	var wg sync.WaitGroup
	w := startRefresh(s, rt, &wg)
	wg.Wait()
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("refresh: %d %s", w.Code, w.Body)
	}
	st.failing(false, false)
	for _, path := range []string{"/api/v1/version", "/healthz"} {
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("X-Api-Key", testKey)
		r.Header.Set("Authorization", "Bearer "+at)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, r)
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"temporarily_unavailable"`) {
			t.Errorf("%s after the store failed for good: %d %s", path, rec.Code, rec.Body)
		}
	}
}

// headerRecorder is a recorder that signals when the handler first touches
// the answer's headers: it has computed its answer and is about to send it.
type headerRecorder struct {
	*recorder
	once    sync.Once
	touched chan struct{}
}

func (h *headerRecorder) Header() http.Header {
	h.once.Do(func() { close(h.touched) })
	return h.recorder.Header()
}

// TestReadWaitsForEarlierChanges (7.5): an answer waits for every change
// made before it, not only its own: while an administrator's approval is on
// its way to the store, a request that only reads the devices, and has
// read the approval, does not answer.
func TestReadWaitsForEarlierChanges(t *testing.T) {
	st := newGateStore()
	s := newTestServer(t, func(o *Options) { o.Store = st })
	newTestDevice("rw").register(t, s)
	gate := make(chan struct{})
	st.close(gate)
	var wg sync.WaitGroup
	admin := func(method, path string) *headerRecorder {
		req := httptest.NewRequest(method, path, nil)
		req.Header.Set("Authorization", "Bearer "+s.AdminToken())
		w := &headerRecorder{recorder: &recorder{ResponseRecorder: httptest.NewRecorder()}, touched: make(chan struct{})}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.ServeHTTP(w, req)
		}()
		return w
	}
	approve := admin("POST", "/admin/api/devices/rw/approve")
	<-st.entered // the approval's commit is at the disk
	read := admin("GET", "/admin/api/devices")
	<-read.touched // the read has its answer, the approval in it
	for range 50 { // give a wrong answer time to go out
		if read.wasWritten() || approve.wasWritten() {
			t.Fatal("an answer went out before the approval was stored")
		}
		time.Sleep(time.Millisecond)
	}
	st.close(nil)
	close(gate)
	wg.Wait()
	if approve.Code != 200 || read.Code != 200 || !strings.Contains(read.Body.String(), `"trusted"`) {
		t.Fatalf("approve %d, read %d %s", approve.Code, read.Code, read.Body)
	}
}
