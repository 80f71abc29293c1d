package server

import (
	"bytes"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// rec is a record of kind family with a value, or a deletion (value "").
func rec(key, value string) Record {
	r := Record{Kind: KindFamily, Key: key}
	if value != "" {
		r.Value = []byte(value)
	}
	return r
}

// contents returns what st loads, as "kind/key=value" lines in order.
func contents(t *testing.T, st Store) string {
	t.Helper()
	var lines []string
	if err := st.Load(func(r Record) error {
		lines = append(lines, fmt.Sprintf("%s/%s=%s", r.Kind, r.Key, r.Value))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return strings.Join(lines, " ")
}

func commit(t *testing.T, st Store, b Batch) {
	t.Helper()
	if err := st.Commit(b); err != nil {
		t.Fatal(err)
	}
}

// crashCopy copies st's files as a crash would leave them and opens the copy.
func crashCopy(t *testing.T, path string) (string, *BoltStore) {
	t.Helper()
	cp := filepath.Join(t.TempDir(), "crash.db")
	crashCopyFiles(t, path, cp)
	st, err := OpenBoltStore(cp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return cp, st
}

func openStore(t *testing.T, path string) *BoltStore {
	t.Helper()
	st, err := OpenBoltStore(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// TestWALReplayAfterCrash: changes committed to the log only (no
// checkpoint, no clean shutdown) are there after a restart, and the restart
// writes them into bbolt and starts an empty log.
func TestWALReplayAfterCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st := openStore(t, path)
	commit(t, st, Batch{Records: []Record{rec("a", "1"), rec("b", "2")}})
	commit(t, st, Batch{Records: []Record{rec("a", "3"), rec("b", "")}})
	commit(t, st, Batch{Records: []Record{rec("c", "4")}})
	want := "family/a=3 family/c=4"
	if got := contents(t, st); got != want {
		t.Fatalf("before the crash: %q", got)
	}
	if n, err := st.applied(); err != nil || n != 0 {
		t.Fatalf("bbolt has entries up to %d (%v) before any checkpoint", n, err)
	}
	cp, c := crashCopy(t, path)
	if got := contents(t, c); got != want {
		t.Fatalf("after the crash: %q, want %q", got, want)
	}
	if n, err := c.applied(); err != nil || n != 3 {
		t.Fatalf("bbolt has entries up to %d (%v) after replaying 3", n, err)
	}
	l := readLog(t, walPath(cp))
	if len(l.entries) != 0 || l.base != 3 {
		t.Fatalf("log after the start: %d entries from %d", len(l.entries), l.base)
	}
	// The copy goes on numbering from 4, and keeps it through a clean close.
	commit(t, c, Batch{Records: []Record{rec("d", "5")}})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(walPath(cp)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("log left after a clean close: %v", err)
	}
	if got := contents(t, openStore(t, cp)); got != want+" family/d=5" {
		t.Fatalf("after a clean close: %q", got)
	}
}

func readLog(t *testing.T, path string) *walLog {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l, err := parseWAL(b)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// crashWithEntries commits batches, copies the files as a crash leaves
// them, and returns the copy's path with its log's bytes and the offsets
// where its entries start (and where the last one ends).
func crashWithEntries(t *testing.T, batches ...Batch) (string, []byte, []int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	st := openStore(t, path)
	offs := []int{walHeaderLen}
	for _, b := range batches {
		commit(t, st, b)
		offs = append(offs, int(st.size))
	}
	cp := filepath.Join(t.TempDir(), "crash.db")
	crashCopyFiles(t, path, cp)
	b, err := os.ReadFile(walPath(cp))
	if err != nil {
		t.Fatal(err)
	}
	return cp, b, offs
}

// TestWALTornTail: a last entry cut short or with a bad checksum (the
// process died while writing it, so it was never acknowledged) is dropped;
// the entries before it are replayed.
func TestWALTornTail(t *testing.T) {
	batches := []Batch{{Records: []Record{rec("a", "1")}}, {Records: []Record{rec("b", "2")}}, {Records: []Record{rec("c", "3"), rec("a", "")}}}
	for name, tear := range map[string]func(log []byte, last, end int){
		"short": func(log []byte, last, end int) { clear(log[last+(end-last)/2 : end]) },
		"frame only": func(log []byte, last, end int) {
			clear(log[last+walFrameLen : end])
		},
		"bad checksum": func(log []byte, last, end int) { log[end-1] ^= 0x40 },
		"length only":  func(log []byte, last, end int) { clear(log[last+4 : end]) },
	} {
		t.Run(name, func(t *testing.T) {
			cp, log, offs := crashWithEntries(t, batches...)
			tear(log, offs[2], offs[3])
			if err := os.WriteFile(walPath(cp), log, 0o600); err != nil {
				t.Fatal(err)
			}
			st := openStore(t, cp)
			if got := contents(t, st); got != "family/a=1 family/b=2" {
				t.Fatalf("after a torn last entry: %q", got)
			}
			// The dropped entry's number is used again, by the next change.
			commit(t, st, Batch{Records: []Record{rec("d", "4")}})
			if st.seq != 3 {
				t.Fatalf("next entry numbered %d", st.seq)
			}
		})
	}
}

// TestWALDamagedMiddle: an unreadable entry followed by a valid one is
// damage, not a torn write: the store refuses to open, says what to do, and
// leaves the log as it is.
func TestWALDamagedMiddle(t *testing.T) {
	batches := []Batch{{Records: []Record{rec("a", "1")}}, {Records: []Record{rec("b", "2")}}, {Records: []Record{rec("c", "3")}}}
	for name, damage := range map[string]func(log []byte, offs []int){
		"bad checksum":   func(log []byte, offs []int) { log[offs[1]+walFrameLen+2] ^= 1 },
		"zeroed":         func(log []byte, offs []int) { clear(log[offs[1]:offs[2]]) },
		"bad length":     func(log []byte, offs []int) { log[offs[1]] += 3 },
		"first entry":    func(log []byte, offs []int) { log[offs[0]+walFrameLen] ^= 0xff },
		"numbers jump":   func(log []byte, offs []int) { copy(log[offs[1]:], appendWALEntry(nil, 7, batches[1])) },
		"header damaged": func(log []byte, offs []int) { log[20] ^= 1 },
	} {
		t.Run(name, func(t *testing.T) {
			cp, log, offs := crashWithEntries(t, batches...)
			damage(log, offs)
			if err := os.WriteFile(walPath(cp), log, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := OpenBoltStore(cp)
			if !errors.Is(err, ErrStateFile) || !strings.Contains(err.Error(), "is damaged") || !strings.Contains(err.Error(), "move the log away") {
				t.Fatalf("err %v", err)
			}
			t.Log(err)
			if afterLog, _ := os.ReadFile(walPath(cp)); !bytes.Equal(log, afterLog) {
				t.Fatal("opening a damaged log changed it")
			}
		})
	}
}

// TestWALMissingEntries: a log that does not continue where the state file
// ends (an older state file restored beside a newer log) is refused.
func TestWALMissingEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st := openStore(t, path)
	commit(t, st, Batch{Records: []Record{rec("a", "1")}})
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	log := appendWALHeader(nil, 5)
	log = appendWALEntry(log, 6, Batch{Records: []Record{rec("b", "2")}})
	if err := os.WriteFile(walPath(path), log, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenBoltStore(path); !errors.Is(err, ErrStateFile) || !strings.Contains(err.Error(), "entries are missing") {
		t.Fatalf("err %v", err)
	}
}

// TestWALCheckpoint: past its size the log goes into bbolt in the
// background while commits go on; a crash at any step of a checkpoint
// loses nothing, and a clean close leaves the state file alone.
func TestWALCheckpoint(t *testing.T) {
	for _, stage := range []string{"checkpoint", "checkpointed"} {
		t.Run("crash at "+stage, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			reached, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			st, err := openBoltStore(path, BoltOptions{CheckpointBytes: 600}, func(s *BoltStore) {
				s.testHook = func(s string) {
					if s == stage {
						once.Do(func() { close(reached); <-release })
					}
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			want := map[string]string{}
			put := func(i int) {
				k, v := fmt.Sprintf("k%02d", i%17), fmt.Sprintf("value-%d-%s", i, strings.Repeat("x", 40))
				commit(t, st, Batch{Records: []Record{rec(k, v)}})
				want[k] = v
			}
			i := 0
			for ; st.size < 600; i++ {
				put(i)
			}
			<-reached // the checkpoint waits; commits go on into the new log
			for j := 0; j < 5; j++ {
				put(i + j)
			}
			_, c := crashCopy(t, path)
			close(release)
			var exp []string
			for k, v := range want {
				exp = append(exp, "family/"+k+"="+v)
			}
			slices.Sort(exp)
			if got := contents(t, c); got != strings.Join(exp, " ") {
				t.Fatalf("after a crash at %s:\n%s\nwant\n%s", stage, got, strings.Join(exp, " "))
			}
			// Many more checkpoints, then a clean close.
			for j := 0; j < 200; j++ {
				put(i + 5 + j)
			}
			st.mu.Lock()
			done := st.ckDone
			st.mu.Unlock()
			<-done
			st.mu.Lock()
			n, ckErr := st.checkpoints, st.ckErr
			st.mu.Unlock()
			if n < 2 || ckErr != nil {
				t.Fatalf("%d checkpoints, last error %v", n, ckErr)
			}
			wantAll := contents(t, st)
			// The logs in use now are recycled ones: a crash finds the
			// entries of their earlier lives after the live ones.
			live := readLog(t, walPath(path))
			raw, _ := os.ReadFile(walPath(path))
			if len(bytes.TrimLeft(raw[live.end:], "\x00")) == 0 {
				t.Fatal("the log is not a recycled one")
			}
			if _, c := crashCopy(t, path); contents(t, c) != wantAll {
				t.Fatalf("after a crash on a recycled log: %q, want %q", contents(t, c), wantAll)
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{walPath(path), walOldPath(path), walNewPath(path)} {
				if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s left after a clean close", p)
				}
			}
			if got := contents(t, openStore(t, path)); got != wantAll {
				t.Fatalf("after a clean close: %q, want %q", got, wantAll)
			}
		})
	}
}

// TestWALReset: a Reset batch drops everything before it, in Load, after a
// crash and after a checkpoint.
func TestWALReset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st := openStore(t, path)
	commit(t, st, Batch{Records: []Record{rec("a", "1"), {Kind: KindDevice, Key: "d", Value: []byte("dev")}}})
	if err := st.Close(); err != nil { // a and d in bbolt
		t.Fatal(err)
	}
	st = openStore(t, path)
	commit(t, st, Batch{Records: []Record{rec("b", "2")}})
	commit(t, st, Batch{Reset: true, Records: []Record{rec("c", "3")}})
	commit(t, st, Batch{Records: []Record{rec("e", "5")}})
	want := "family/c=3 family/e=5"
	if got := contents(t, st); got != want {
		t.Fatalf("Load after a reset: %q", got)
	}
	_, c := crashCopy(t, path)
	if got := contents(t, c); got != want {
		t.Fatalf("after a crash: %q", got)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if got := contents(t, openStore(t, path)); got != want {
		t.Fatalf("after a clean close: %q", got)
	}
}

// TestWALFailedCommit: an append that fails is erased from the log, the
// server answers 503 and rebuilds its state from bbolt and the log, the
// token can be refreshed again, and a restart does not bring the failed
// change back.
func TestWALFailedCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	var fail sync.Mutex
	failing := false
	st, err := openBoltStore(path, BoltOptions{}, func(s *BoltStore) {
		s.fault = func() error {
			fail.Lock()
			defer fail.Unlock()
			if failing {
				return errors.New("injected write error")
			}
			return nil
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	a := DemoAccount()
	a.Keys[0].AllowUntrusted = true
	s, err := New(Options{Account: a, PasswordCost: bcrypt.MinCost, FakeClock: true, AdminToken: "admin-secret", Store: st,
		Now: func() time.Time { return base }})
	if err != nil {
		t.Fatal(err)
	}
	_, rt := userToken(t, s, "", "alice", "wonderland")
	rt = refresh(t, s, "api", rt).json(t)["refresh_token"].(string)
	fail.Lock()
	failing = true
	fail.Unlock()
	body := url.Values{"client_id": {"api"}, "client_secret": {testKey}, "grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()
	r := httptest.NewRequest("POST", "/oauth/v1/token", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != 503 || !strings.Contains(w.Body.String(), "temporarily_unavailable") {
		t.Fatalf("refresh while the log fails: %d %s", w.Code, w.Body)
	}
	fail.Lock()
	failing = false
	fail.Unlock()
	rt2 := refresh(t, s, "api", rt).json(t)["refresh_token"].(string)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := boltServer(t, path, base)
	defer s2.Close()
	if r := refresh(t, s2, "api", rt2); r.Code != 200 {
		t.Fatalf("latest token after restart: %d %s", r.Code, r.Body)
	}
	if r := refresh(t, s2, "api", rt); r.errCode(t) != "invalid_grant" {
		t.Fatalf("spent token after restart: %d %s", r.Code, r.Body)
	}
}

// TestWALFailedCommitIsErased: the entry of a failed append is not in the
// log (zeros), and the next commit takes its place and number.
func TestWALFailedCommitIsErased(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	var fault error
	st, err := openBoltStore(path, BoltOptions{}, func(s *BoltStore) { s.fault = func() error { return fault } })
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	commit(t, st, Batch{Records: []Record{rec("a", "1")}})
	fault = errors.New("injected")
	if err := st.Commit(Batch{Records: []Record{rec("lost", "x")}}); err == nil {
		t.Fatal("no error")
	}
	fault = nil
	if got := contents(t, st); got != "family/a=1" {
		t.Fatalf("Load after a failed commit: %q", got)
	}
	commit(t, st, Batch{Records: []Record{rec("b", "2")}})
	l := readLog(t, walPath(path))
	if len(l.entries) != 2 || l.entries[1].seq != 2 || l.torn {
		t.Fatalf("log: %+v", l)
	}
}

// TestParseWALRoundTrip: what appendWALEntry writes parseWAL reads back,
// with the zeros written ahead after it.
func TestParseWALRoundTrip(t *testing.T) {
	batches := []Batch{
		{Records: []Record{rec("a", "1"), rec("gone", ""), {Kind: KindClock, Key: "fake", Value: []byte{}}}},
		{Reset: true},
		{Reset: true, Records: []Record{{Kind: KindUser, Key: "bob", Value: []byte(`{"x":1}`)}}},
	}
	log := appendWALHeader(nil, 41)
	for i, b := range batches {
		log = appendWALEntry(log, uint64(42+i), b)
	}
	end := len(log)
	log = append(log, make([]byte, 1000)...)
	l, err := parseWAL(log)
	if err != nil {
		t.Fatal(err)
	}
	if l.base != 41 || l.end != end || l.torn || len(l.entries) != 3 {
		t.Fatalf("%+v", l)
	}
	for i, e := range l.entries {
		if e.seq != uint64(42+i) || !reflect.DeepEqual(e.batch, batches[i]) {
			t.Errorf("entry %d: %d %+v, want %+v", i, e.seq, e.batch, batches[i])
		}
	}
}

// TestParseWALRecycled: in a recycled log, the entries of its earlier life
// after the live ones are its end, also after a torn last entry; a damaged
// live entry followed by a live one is still damage.
func TestParseWALRecycled(t *testing.T) {
	batch := func(k string) Batch { return Batch{Records: []Record{rec(k, strings.Repeat("v", 30))}} }
	old := appendWALHeader(nil, 0)
	for i := 1; i <= 6; i++ {
		old = appendWALEntry(old, uint64(i), batch(fmt.Sprint("old", i)))
	}
	live := appendWALHeader(nil, 6)
	live = appendWALEntry(live, 7, batch("a"))
	second := len(live)
	live = appendWALEntry(live, 8, batch("b"))
	file := func(live []byte) []byte { return append(append([]byte(nil), live...), old[len(live):]...) }

	l, err := parseWAL(file(live))
	if err != nil || len(l.entries) != 2 || l.entries[1].seq != 8 {
		t.Fatalf("recycled: %+v %v", l, err)
	}
	torn := append([]byte(nil), live...)
	torn[len(torn)-3] ^= 1
	if l, err = parseWAL(file(torn)); err != nil || len(l.entries) != 1 {
		t.Fatalf("recycled, torn: %+v %v", l, err)
	}
	damaged := append([]byte(nil), live...)
	damaged[second-3] ^= 1
	if _, err = parseWAL(file(damaged)); err == nil || !strings.Contains(err.Error(), "entry 8 follows") {
		t.Fatalf("recycled, damaged: %v", err)
	}
}

// FuzzWALReader: parseWAL never panics; what it accepts is entries that
// read back the same when written again.
func FuzzWALReader(f *testing.F) {
	log := appendWALHeader(nil, 0)
	log = appendWALEntry(log, 1, Batch{Records: []Record{rec("a", "1"), rec("b", "")}})
	log = appendWALEntry(log, 2, Batch{Reset: true, Records: []Record{{Kind: KindDevice, Key: "d", Value: []byte("{}")}}})
	f.Add(log)
	f.Add(append(append([]byte(nil), log...), make([]byte, 64)...))
	f.Add(log[:len(log)-5])
	damaged := append([]byte(nil), log...)
	damaged[walHeaderLen+walFrameLen] ^= 1
	f.Add(damaged)
	f.Add(appendWALHeader(nil, 1<<40))
	f.Add([]byte(walMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := parseWAL(b)
		if err != nil {
			return
		}
		again := appendWALHeader(nil, l.base)
		for _, e := range l.entries {
			again = appendWALEntry(again, e.seq, e.batch)
		}
		l2, err := parseWAL(again)
		if err != nil {
			t.Fatalf("written again, unreadable: %v", err)
		}
		if l2.base != l.base || !reflect.DeepEqual(l2.entries, l.entries) || l2.end != len(again) || l2.torn {
			t.Fatalf("written again, read differently")
		}
		if l.end > len(b) || l.end < walHeaderLen {
			t.Fatalf("end %d of %d", l.end, len(b))
		}
	})
}
