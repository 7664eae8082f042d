package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// serveInProcess runs `ladle serve ARGS` in-process and returns its URL and a func that
// stops it and returns its exit status and output.
func serveInProcess(t *testing.T, args ...string) (url string, stop func() (int, string, string)) {
	t.Helper()
	started := make(chan string, 1)
	stopCh := make(chan struct{})
	serveStarted = func(u string) { started <- u }
	serveStop = stopCh
	var out, errb syncBuffer
	exit := make(chan int, 1)
	go func() { exit <- run(append([]string{"serve"}, args...), &out, &errb) }()
	t.Cleanup(func() { serveStarted, serveStop = nil, nil })
	select {
	case url = <-started:
	case code := <-exit:
		t.Fatalf("ladle serve exited with %d before listening: %s%s", code, out.String(), errb.String())
	case <-time.After(5 * time.Minute):
		t.Fatal("ladle serve did not start in 5 minutes")
	}
	return url, func() (int, string, string) {
		close(stopCh)
		code := <-exit
		return code, out.String(), errb.String()
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func httpGet(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// fakeDist is a built playground's minimal set of files.
func fakeDist(t *testing.T) string {
	dir := t.TempDir()
	for name, body := range map[string]string{"index.html": "<!doctype html><title>Ladle</title>", "wasm_exec.js": "//",
		"engine.js": "//", "engine.wasm": "\x00asm\x01\x00\x00\x00"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestServeDistFolder(t *testing.T) {
	url, stop := serveInProcess(t, "--addr", "127.0.0.1:0", "--dist", fakeDist(t))
	resp, body := httpGet(t, url)
	if resp.StatusCode != 200 || !strings.Contains(body, "<title>Ladle</title>") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("GET /: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	if resp, _ := httpGet(t, url+"engine.wasm"); resp.Header.Get("Content-Type") != "application/wasm" {
		t.Errorf("engine.wasm: %v", resp.Header)
	}
	code, stdout, _ := stop()
	if code != 0 || !strings.Contains(stdout, "Ladle playground: "+url) {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
}

func TestServeBuildsFromSources(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the playground (wasm) from the sources")
	}
	url, stop := serveInProcess(t, "--addr", "127.0.0.1:0")
	resp, body := httpGet(t, url)
	if resp.StatusCode != 200 || !strings.Contains(body, "<noscript>") || !strings.Contains(body, "wasm_exec.js") {
		t.Errorf("GET /: %d %q", resp.StatusCode, body)
	}
	req, _ := http.NewRequest("GET", url+"engine.wasm", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	r, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/wasm" || r.Header.Get("Content-Encoding") != "gzip" || r.Header.Get("ETag") == "" {
		t.Errorf("engine.wasm: %d %v", r.StatusCode, r.Header)
	}
	if resp, _ := httpGet(t, url+"engine.js"); resp.StatusCode != 200 {
		t.Errorf("engine.js: %d", resp.StatusCode)
	}
	if code, _, stderr := stop(); code != 0 {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

func TestServeMistakes(t *testing.T) {
	if code, _, stderr := runCLI(t, "serve", "extra"); code != 2 {
		t.Errorf("serve extra: exit %d, %s", code, stderr)
	}
	code, _, stderr := runCLI(t, "serve", "--addr", "127.0.0.1:0", "--dist", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "go run ./build dist") {
		t.Errorf("empty --dist: exit %d, %s", code, stderr)
	}
	code, _, stderr = runCLI(t, "serve", "--addr", "not-an-address", "--dist", fakeDist(t))
	if code != 1 || !strings.Contains(stderr, "cannot listen") {
		t.Errorf("bad address: exit %d, %s", code, stderr)
	}
}
