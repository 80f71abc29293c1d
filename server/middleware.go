package server

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// statusWriter records the status code for the request log. When muxReq is
// set (jsonErrors), it also replaces the ServeMux's own plain-text 404 and
// 405 answers to muxReq with JSON errors. When srv is set, the answer waits
// until every change queued before it is in the store (Server.settle); if a
// commit failed meanwhile, the answer becomes 503 temporarily_unavailable.
type statusWriter struct {
	http.ResponseWriter
	status  int
	wrote   bool
	muxReq  *http.Request
	discard bool // the mux's plain-text body, replaced by JSON
	srv     *Server
	mark    uint64 // srv.failureMark() when the request came in
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
		if w.srv != nil && w.srv.settle(w.mark) != nil {
			clear(w.Header())
			w.status, w.discard = http.StatusServiceUnavailable, true
			writeErr(w.ResponseWriter, storeErr())
			return
		}
		if muxError(w.ResponseWriter, w.muxReq, code) {
			w.discard = true
			return
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.discard {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (hijacking).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// middleware wraps h with, from the outside in: the request log, panic
// recovery, the host check, the wait for the store before any answer
// (statusWriter), the refusal to serve once the store failed for good,
// injected faults and the body limit.
func (s *Server) middleware(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, srv: s, mark: s.failureMark()}
		defer func() { s.logRequest(r, sw.status, start) }()
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					sw.status = 0
					panic(v)
				}
				s.log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				if !sw.wrote {
					writeErr(sw, errf(http.StatusInternalServerError, "server_error", "internal error"))
				}
			}
		}()
		if !s.hosts.allows(r.Host) {
			refuseHost(sw, r)
			return
		}
		if s.commits.broken.Load() {
			writeErr(sw, storeErr()) // memory and store may differ: serve nothing
			return
		}
		if f := s.takeFault(r.URL.Path); f != nil {
			if !s.applyFault(sw, r, f) {
				return
			}
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(sw, r.Body, maxBody)
		}
		h.ServeHTTP(sw, r)
	})
}

// logRequest writes the request log line: method, path (not the query,
// which may hold credentials: GET login), status and duration. The record
// goes to the handler directly: Logger.LogAttrs would also look up its
// caller's program counter (runtime.Callers), which no request line shows
// unless the handler adds the source, and then it would be this function
// anyway. The end of the request is also the line's time (one clock read).
func (s *Server) logRequest(r *http.Request, status int, start time.Time) {
	h := s.log.Handler()
	if !h.Enabled(r.Context(), slog.LevelInfo) {
		return
	}
	end := time.Now()
	rec := slog.NewRecord(end, slog.LevelInfo, "request", 0)
	rec.AddAttrs(slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", status), slog.Duration("duration", end.Sub(start)))
	_ = h.Handle(r.Context(), rec)
}

// takeFault consumes one matching injected fault, if any. Admin paths are
// never faulted, so a fault cannot lock the administrator out.
func (s *Server) takeFault(path string) *fault {
	if path == "/admin" || strings.HasPrefix(path, "/admin/") {
		return nil
	}
	if !s.faulty.Load() {
		return nil // the common case, without taking the state lock
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() { s.faulty.Store(len(s.st.faults) > 0) }()
	for i, f := range s.st.faults {
		if f.Path != path {
			continue
		}
		c := *f
		f.Count--
		if f.Count <= 0 {
			s.st.faults = append(s.st.faults[:i], s.st.faults[i+1:]...)
		}
		return &c
	}
	return nil
}

// applyFault delays, drops or answers as f says. It reports whether the
// request should still be served normally (a pure delay).
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f *fault) bool {
	if f.Delay > 0 {
		// A slow server has the request and is slow to answer: read the body
		// now, so that the wait does not run into the read timeout.
		bufferBody(r)
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return false
		}
	}
	if f.Drop {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
			return false
		}
		// Not hijackable (HTTP/2, recorders): abort the response instead.
		panic(http.ErrAbortHandler)
	}
	if f.Status != 0 {
		writeErr(w, errf(f.Status, "injected_fault", "fault injected through the admin API"))
		return false
	}
	return true
}

// bufferBody reads up to one byte more than maxBody of r's body into memory
// and replaces the body with what was read (then the read error, if any), so
// the body limit and error answers stay those of an unbuffered request.
func bufferBody(r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	rest := io.Reader(r.Body)
	if err != nil {
		rest = errReader{err}
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), rest), r.Body}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
