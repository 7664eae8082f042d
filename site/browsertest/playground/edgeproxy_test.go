package playground

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"
)

// The browser reaches `wrangler dev` through retryProxy. Its local asset server now
// and then never answers a request when several arrive at once (on a loaded 2-core
// machine: a page's app.js, a lab's lab.json), and the page then waits forever for
// a script. That is the local emulator, not the Worker: the same request answers at
// once when asked again, and 48 concurrent curls hung 11 of 144 static-asset
// requests and none of the Worker's own. The proxy asks again, for GET and HEAD
// only, when no response header has come within edgeAttemptTimeout, and counts how
// often; everything else (status, headers, bytes) passes through unchanged, so what
// the test proves about the Worker holds. It also lets at most two requests reach
// the emulator at once, which makes the hang rarer.
var edgeAttemptTimeout = 15 * time.Second // a var: the proxy's own test shortens it

const edgeAttempts = 4

type retryTransport struct {
	next    http.RoundTripper
	slots   chan struct{}
	retries atomic.Int64
}

func (rt *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt.slots <- struct{}{}
	defer func() { <-rt.slots }()
	idempotent := req.Method == http.MethodGet || req.Method == http.MethodHead
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithCancel(req.Context())
		timer := time.AfterFunc(edgeAttemptTimeout, cancel) // stopped once the header is in
		resp, err := rt.next.RoundTrip(req.Clone(ctx))
		stopped := timer.Stop()
		if err == nil {
			resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
			return resp, nil
		}
		cancel()
		if !idempotent || stopped || req.Context().Err() != nil || attempt == edgeAttempts || !errors.Is(err, context.Canceled) {
			return nil, err
		}
		rt.retries.Add(1)
	}
}

// cancelOnClose releases an attempt's context once its body has been read.
type cancelOnClose struct {
	io.ReadCloser
	cancel func()
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// newRetryProxy serves upstream's answers at the returned URL; retries reports how
// many requests were asked again.
func newRetryProxy(t *testing.T, upstream string) (proxyURL string, retries func() int64) {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	rt := &retryTransport{next: &http.Transport{DisableCompression: true}, slots: make(chan struct{}, 2)}
	p := httputil.NewSingleHostReverseProxy(u)
	p.Transport = rt
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL, rt.retries.Load
}

// The proxy asks again when the upstream leaves a GET unanswered, and passes the
// answer through unchanged.
func TestRetryProxyAsksAgain(t *testing.T) {
	old := edgeAttemptTimeout
	edgeAttemptTimeout = 200 * time.Millisecond
	defer func() { edgeAttemptTimeout = old }()
	var calls atomic.Int64
	release := make(chan struct{})
	defer close(release)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			select { // the emulator's hang
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("X-Ladle", "kept")
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "answer")
	}))
	defer up.Close()
	proxy, retries := newRetryProxy(t, up.URL)
	resp, err := http.Get(proxy + "/app.js")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot || resp.Header.Get("X-Ladle") != "kept" || string(body) != "answer" {
		t.Errorf("through the proxy: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	if retries() != 1 || calls.Load() != 2 {
		t.Errorf("%d retries, %d upstream calls; want 1 and 2", retries(), calls.Load())
	}
}
