package keystore

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// skipOnWindows skips tests of Unix file modes.
func skipOnWindows(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix file modes: Windows protects the file with the profile directory's ACL")
	}
}

func newTestFile(t *testing.T) *File {
	t.Helper()
	return NewFile(filepath.Join(t.TempDir(), "paragon", FileName))
}

// dirNames lists the names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// noTemps fails when a temporary file is left next to the store.
func noTemps(t *testing.T, s *File) {
	t.Helper()
	for _, n := range dirNames(t, filepath.Dir(s.Path())) {
		if strings.HasSuffix(n, ".tmp") {
			t.Errorf("temporary file %s left behind", n)
		}
	}
}

func TestFileModes(t *testing.T) {
	skipOnWindows(t)
	s := newTestFile(t)
	if err := s.Set("p", ItemAPIKey, "k"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(s.Path())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v, %v; want 0600", fi.Mode(), err)
	}
	di, _ := os.Stat(filepath.Dir(s.Path()))
	if di.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", di.Mode())
	}
	// The JSON layout other tools may read.
	b, _ := os.ReadFile(s.Path())
	if !strings.Contains(string(b), `"version": 1`) || !strings.Contains(string(b), `"api-key": "k"`) {
		t.Errorf("file content:\n%s", b)
	}
	noTemps(t, s)
}

func TestFileRefusesGroupOrOtherAccess(t *testing.T) {
	skipOnWindows(t)
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o602} {
		t.Run(fmt.Sprintf("%#o", mode), func(t *testing.T) {
			s := newTestFile(t)
			if err := s.Set("p", ItemAPIKey, "k"); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(s.Path(), mode); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(s.Path())
			_, err := s.Get("p", ItemAPIKey)
			if !errors.Is(err, ErrInsecureFile) {
				t.Fatalf("Get: err = %v, want ErrInsecureFile", err)
			}
			if want := "chmod 600 " + s.Path(); !strings.Contains(err.Error(), want) {
				t.Errorf("message %q lacks %q", err, want)
			}
			if err := s.Set("p", ItemAPIKey, "k2"); !errors.Is(err, ErrInsecureFile) {
				t.Errorf("Set: err = %v, want ErrInsecureFile", err)
			}
			after, _ := os.ReadFile(s.Path())
			if string(before) != string(after) {
				t.Error("Set rewrote a refused file")
			}
			os.Chmod(s.Path(), 0o600)
			if v, err := s.Get("p", ItemAPIKey); err != nil || v != "k" {
				t.Errorf("after chmod 600: %q, %v", v, err)
			}
		})
	}
}

func TestFileRejectsGarbageWithoutQuotingIt(t *testing.T) {
	s := newTestFile(t)
	os.MkdirAll(filepath.Dir(s.Path()), 0o700)
	os.WriteFile(s.Path(), []byte(`{"profiles": {"p": {"api-key": "topsecret-value"`), 0o600)
	_, err := s.Get("p", ItemAPIKey)
	if err == nil || strings.Contains(err.Error(), "topsecret") || !strings.Contains(err.Error(), s.Path()) {
		t.Errorf("err = %v", err)
	}
	os.WriteFile(s.Path(), []byte(`[]`), 0o600)
	if _, err := s.Get("p", ItemAPIKey); err == nil {
		t.Error("a JSON array was accepted")
	}
}

// seed writes a first version of the file and returns its bytes.
func seed(t *testing.T, s *File) []byte {
	t.Helper()
	if err := SaveTokens(s, "p", UserTokens, Tokens{AccessToken: "at-1", RefreshToken: "rt-1"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFileAtomicWriteFaults(t *testing.T) {
	injected := errors.New("injected fault")
	for _, c := range []struct {
		step  string
		setup func(s *File)
	}{
		{"write", func(s *File) {
			s.afterTempWrite = func(tmp string) error {
				// The temp file really holds the new secrets at this point.
				if b, _ := os.ReadFile(tmp); !strings.Contains(string(b), "rt-2") {
					return errors.New("temp file does not hold the new data")
				}
				return injected
			}
		}},
		{"fsync", func(s *File) { s.syncFile = func(*os.File) error { return injected } }},
		{"rename", func(s *File) { s.rename = func(string, string) error { return injected } }},
	} {
		t.Run(c.step, func(t *testing.T) {
			s := newTestFile(t)
			orig := seed(t, s)
			c.setup(s)
			err := SaveTokens(s, "p", UserTokens, Tokens{AccessToken: "at-2", RefreshToken: "rt-2"})
			if !errors.Is(err, injected) {
				t.Fatalf("err = %v, want the injected fault", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "at "+c.step) || !strings.Contains(msg, "unchanged") || strings.Contains(msg, "rt-2") {
				t.Errorf("message %q", msg)
			}
			now, _ := os.ReadFile(s.Path())
			if string(now) != string(orig) {
				t.Errorf("original file changed:\n%s", now)
			}
			noTemps(t, s)
			// The old pair is still there, whole.
			tk, err := LoadTokens(s, "p", UserTokens)
			if err != nil || tk.AccessToken != "at-1" || tk.RefreshToken != "rt-1" {
				t.Errorf("after the fault: %+v, %v", tk, err)
			}
		})
	}
}

func init() {
	// A writer that dies (os.Exit, no deferred cleanup) after writing the
	// temporary file, before the rename.
	children["file-crash"] = func(t *testing.T) {
		s := NewFile(os.Getenv("STORE_PATH"))
		s.afterTempWrite = func(string) error { os.Exit(3); return nil }
		SaveTokens(s, "p", UserTokens, Tokens{AccessToken: "at-2", RefreshToken: "rt-2"})
		t.Fatal("survived the crash")
	}
	// A writer that stores 20 items of its own.
	children["file-writer"] = func(t *testing.T) {
		s := NewFile(os.Getenv("STORE_PATH"))
		me := os.Getenv("CHILD_INDEX")
		for j := range 20 {
			if err := s.Set("p"+me, "item"+strconv.Itoa(j), me+"-"+strconv.Itoa(j)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestFileCrashMidWrite(t *testing.T) {
	s := newTestFile(t)
	orig := seed(t, s)
	res := runChildren(childContext(t), t, "file-crash", 1, "STORE_PATH="+s.Path())
	var ee *exec.ExitError
	if !errors.As(res[0].err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("child did not crash as planned: %v\n%s", res[0].err, res[0].output)
	}
	now, _ := os.ReadFile(s.Path())
	if string(now) != string(orig) {
		t.Fatalf("file changed by a crashed writer:\n%s", now)
	}
	tk, err := LoadTokens(s, "p", UserTokens)
	if err != nil || tk.RefreshToken != "rt-1" {
		t.Fatalf("after crash: %+v, %v", tk, err)
	}
	// The crashed writer's temp file holds secrets; the next writer removes it.
	var temps int
	for _, n := range dirNames(t, filepath.Dir(s.Path())) {
		if strings.HasSuffix(n, ".tmp") {
			temps++
		}
	}
	if temps != 1 {
		t.Fatalf("%d temp files after the crash, want the crashed writer's 1", temps)
	}
	if err := s.Set("p", ItemUserName, "alice"); err != nil {
		t.Fatal(err)
	}
	noTemps(t, s)
}

func TestFileConcurrentWritersInProcess(t *testing.T) {
	s := newTestFile(t)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 5 {
				if err := s.Set("p", fmt.Sprintf("item%d-%d", i, j), "v"); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	for i := range 16 {
		for j := range 5 {
			if _, err := s.Get("p", fmt.Sprintf("item%d-%d", i, j)); err != nil {
				t.Errorf("lost write %d-%d: %v", i, j, err)
			}
		}
	}
}

func TestFileConcurrentWritersAcrossProcesses(t *testing.T) {
	s := newTestFile(t)
	const n = 6
	requireChildrenOK(t, runChildren(childContext(t), t, "file-writer", n, "STORE_PATH="+s.Path()))
	for i := range n {
		for j := range 20 {
			want := fmt.Sprintf("%d-%d", i, j)
			if v, err := s.Get("p"+strconv.Itoa(i), "item"+strconv.Itoa(j)); err != nil || v != want {
				t.Errorf("process %d item %d: %q, %v (a lost update)", i, j, v, err)
			}
		}
	}
	noTemps(t, s)
}
