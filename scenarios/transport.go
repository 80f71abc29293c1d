package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
)

// embeddedBase is the base URL reports show for the embedded server.
const embeddedBase = "http://embedded.paragon"

// handlerTransport serves requests by calling an http.Handler in the same
// goroutine: the embedded target needs no sockets, so scenarios cost only
// the server's own work and --parallel scales with the cores. The handler
// sees what a server would: a loopback remote address, the request URI,
// the body; a handler that aborts (fault injection's drop) looks to the
// client like a closed connection. It is safe for concurrent use.
type handlerTransport struct {
	h    http.Handler
	port atomic.Uint32 // a different client port for every request
}

// errConnClosed is what a dropped request reports, like a real client's EOF.
var errConnClosed = errors.New("the server closed the connection without answering")

func (t *handlerTransport) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	var body []byte
	if req.Body != nil {
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	sreq := req.Clone(req.Context())
	sreq.Body = io.NopCloser(bytes.NewReader(body))
	sreq.ContentLength = int64(len(body))
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = fmt.Sprintf("127.0.0.1:%d", 20000+t.port.Add(1)%40000)
	sreq.Host = req.URL.Host
	sreq.Proto, sreq.ProtoMajor, sreq.ProtoMinor = "HTTP/1.1", 1, 1
	rec := httptest.NewRecorder()
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				resp, err = nil, errConnClosed
				return
			}
			panic(p)
		}
	}()
	t.h.ServeHTTP(rec, sreq)
	resp = rec.Result()
	resp.Request = req
	if req.Method == http.MethodHead {
		resp.Body = io.NopCloser(bytes.NewReader(nil)) // a server sends no body to HEAD
	}
	return resp, nil
}
