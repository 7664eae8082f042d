package site

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func testFS(t *testing.T) fstest.MapFS {
	wasm := bytes.Repeat([]byte("\x00asm wasm bytes "), 1000)
	return fstest.MapFS{
		"index.html":               {Data: []byte("<!doctype html><title>Ladle</title>")},
		"wasm_exec.js":             {Data: []byte("// go")},
		"engine.js":                {Data: []byte("importScripts('wasm_exec.js')")},
		"engine.wasm":              {Data: wasm},
		"engine.wasm.gz":           {Data: gz(t, wasm)},
		"engine.wasm.br":           {Data: []byte("pretend brotli")},
		"app.wasm":                 {Data: wasm[:100]},
		"app.wasm.gz":              {Data: gz(t, wasm[:100])},
		"css/ladle.css":            {Data: []byte("body{}")},
		"icons/logo.svg":           {Data: []byte("<svg/>")},
		"labs/index.json":          {Data: []byte("[]")},
		"labs/mnist/a.safetensors": {Data: []byte("12345678{}")},
		"app.3f9a0c1d.wasm":        {Data: []byte("hashed")},
		"docs/index.html":          {Data: []byte("docs")},
		".secret":                  {Data: []byte("no")},
		"notes.unknownext":         {Data: []byte("?")},
	}
}

func get(t *testing.T, h http.Handler, method, target string, header map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, r *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestContentTypes(t *testing.T) {
	h := Handler(testFS(t), Options{})
	cases := map[string]string{
		"/":                         "text/html; charset=utf-8",
		"/index.html":               "text/html; charset=utf-8",
		"/wasm_exec.js":             "text/javascript; charset=utf-8",
		"/engine.wasm":              "application/wasm",
		"/css/ladle.css":            "text/css; charset=utf-8",
		"/icons/logo.svg":           "image/svg+xml",
		"/labs/index.json":          "application/json",
		"/labs/mnist/a.safetensors": "application/octet-stream",
		"/notes.unknownext":         "application/octet-stream",
		"/docs/":                    "text/html; charset=utf-8",
	}
	for path, want := range cases {
		r := get(t, h, "GET", path, nil)
		if r.StatusCode != 200 || r.Header.Get("Content-Type") != want {
			t.Errorf("%s: %d %q, want %q", path, r.StatusCode, r.Header.Get("Content-Type"), want)
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
	}
}

func TestPrecompressedVariants(t *testing.T) {
	fsys := testFS(t)
	h := Handler(fsys, Options{})
	// gzip only: the .gz file, decoding to the original
	r := get(t, h, "GET", "/engine.wasm", map[string]string{"Accept-Encoding": "gzip, deflate"})
	if r.Header.Get("Content-Encoding") != "gzip" || r.Header.Get("Content-Type") != "application/wasm" || r.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("gzip: %v", r.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body(t, r)))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !bytes.Equal(plain, fsys["engine.wasm"].Data) {
		t.Error("the gzip variant does not decode to the file")
	}
	// br preferred when allowed
	r = get(t, h, "GET", "/engine.wasm", map[string]string{"Accept-Encoding": "gzip, br"})
	if r.Header.Get("Content-Encoding") != "br" || string(body(t, r)) != "pretend brotli" {
		t.Errorf("br: %v", r.Header)
	}
	// q=0 refuses a coding
	r = get(t, h, "GET", "/engine.wasm", map[string]string{"Accept-Encoding": "br;q=0, gzip;q=0.5"})
	if r.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("br;q=0: %v", r.Header)
	}
	// none accepted: identity, still Vary
	r = get(t, h, "GET", "/engine.wasm", nil)
	if r.Header.Get("Content-Encoding") != "" || r.Header.Get("Vary") != "Accept-Encoding" || !bytes.Equal(body(t, r), fsys["engine.wasm"].Data) {
		t.Errorf("identity: %v", r.Header)
	}
	r = get(t, h, "GET", "/engine.wasm", map[string]string{"Accept-Encoding": "*"})
	if r.Header.Get("Content-Encoding") != "br" {
		t.Errorf("*: %v", r.Header)
	}
	// a file without variants has no Vary
	r = get(t, h, "GET", "/wasm_exec.js", map[string]string{"Accept-Encoding": "gzip"})
	if r.Header.Get("Content-Encoding") != "" || r.Header.Get("Vary") != "" {
		t.Errorf("no variant: %v", r.Header)
	}
}

func TestETagAndNotModified(t *testing.T) {
	h := Handler(testFS(t), Options{})
	r := get(t, h, "GET", "/engine.wasm", nil)
	etag := r.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, "W/") || len(etag) < 10 {
		t.Fatalf("ETag %q is not a strong validator", etag)
	}
	if again := get(t, h, "GET", "/engine.wasm", nil).Header.Get("ETag"); again != etag {
		t.Errorf("ETag changed: %q then %q", etag, again)
	}
	gzTag := get(t, h, "GET", "/engine.wasm", map[string]string{"Accept-Encoding": "gzip"}).Header.Get("ETag")
	if gzTag == etag {
		t.Error("the gzip representation has the identity's ETag")
	}
	if other := get(t, h, "GET", "/app.wasm", nil).Header.Get("ETag"); other == etag {
		t.Error("two different files share an ETag")
	}
	for _, inm := range []string{etag, `"x", ` + etag, "W/" + etag, "*"} {
		r := get(t, h, "GET", "/engine.wasm", map[string]string{"If-None-Match": inm})
		if r.StatusCode != http.StatusNotModified || len(body(t, r)) != 0 || r.Header.Get("ETag") != etag || r.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("If-None-Match %s: %d %v", inm, r.StatusCode, r.Header)
		}
	}
	if r := get(t, h, "GET", "/engine.wasm", map[string]string{"If-None-Match": `"stale"`}); r.StatusCode != 200 {
		t.Errorf("stale ETag: %d", r.StatusCode)
	}
	// the same content, another FS: the same ETag (it is a content hash)
	h2 := Handler(testFS(t), Options{})
	if e2 := get(t, h2, "GET", "/engine.wasm", nil).Header.Get("ETag"); e2 != etag {
		t.Errorf("ETag is not a content hash: %q vs %q", e2, etag)
	}
}

func TestCacheControl(t *testing.T) {
	h := Handler(testFS(t), Options{})
	cases := map[string]string{
		"/":                  "no-cache",
		"/index.html":        "no-cache",
		"/engine.wasm":       "no-cache",
		"/app.3f9a0c1d.wasm": ImmutableMaxAge,
	}
	for path, want := range cases {
		if got := get(t, h, "GET", path, nil).Header.Get("Cache-Control"); got != want {
			t.Errorf("%s: Cache-Control %q, want %q", path, got, want)
		}
	}
	for name, want := range map[string]bool{"app.3f9a0c1d.wasm": true, "engine-0123456789abcdef.js": true, "engine.wasm": false,
		"index.html": false, "labs/deadbeef.json": false, "app.3F9A0C1D.wasm": false} {
		if HasContentHash(name) != want {
			t.Errorf("HasContentHash(%q) = %v", name, !want)
		}
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	h := Handler(testFS(t), Options{})
	for _, c := range []struct {
		method, path string
		status       int
	}{{"GET", "/", 200}, {"HEAD", "/engine.wasm", 200}, {"GET", "/missing.js", 404}, {"POST", "/", 405},
		{"GET", "/.secret", 404}, {"GET", "/../../etc/passwd", 404}, {"GET", "/css/", 404}} {
		r := get(t, h, c.method, c.path, nil)
		if r.StatusCode != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, r.StatusCode, c.status)
		}
		csp := r.Header.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", "connect-src 'self'",
			"worker-src 'self' blob:", "img-src 'self' data: blob:", "style-src 'self'", "object-src 'none'",
			"base-uri 'none'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s %s: CSP %q lacks %q", c.method, c.path, csp, d)
			}
		}
		if strings.Contains(csp, "*") || strings.Contains(csp, "http") || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "'unsafe-eval'") {
			t.Errorf("CSP allows too much: %q", csp)
		}
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
			"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp"} {
			if r.Header.Get(k) != v {
				t.Errorf("%s %s: %s = %q", c.method, c.path, k, r.Header.Get(k))
			}
		}
	}
	if r := get(t, h, "POST", "/", nil); r.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("405 without Allow: %v", r.Header)
	}
}

func TestHeadAndRange(t *testing.T) {
	fsys := testFS(t)
	h := Handler(fsys, Options{})
	r := get(t, h, "HEAD", "/engine.wasm", nil)
	if len(body(t, r)) != 0 || r.Header.Get("Content-Length") != "16000" {
		t.Errorf("HEAD: %v", r.Header)
	}
	r = get(t, h, "GET", "/engine.wasm", map[string]string{"Range": "bytes=5-8"})
	if r.StatusCode != http.StatusPartialContent || string(body(t, r)) != "wasm" {
		t.Errorf("Range: %d", r.StatusCode)
	}
}

func TestCustomCSP(t *testing.T) {
	h := Handler(testFS(t), Options{CSP: "default-src 'none'"})
	if got := get(t, h, "GET", "/", nil).Header.Get("Content-Security-Policy"); got != "default-src 'none'" {
		t.Errorf("CSP %q", got)
	}
}

func TestCheckDist(t *testing.T) {
	if err := CheckDist(testFS(t)); err != nil {
		t.Error(err)
	}
	if err := CheckDist(fstest.MapFS{"README.md": {}}); err != ErrNoDist {
		t.Errorf("empty: %v", err)
	}
	if err := CheckDist(fstest.MapFS{"index.html": {}}); err == nil {
		t.Error("a dist without the engine passes")
	}
}

func TestEmbedded(t *testing.T) {
	_, built := Embedded()
	_, err := os.Stat("dist/index.html")
	if onDisk := err == nil; built != onDisk {
		t.Errorf("Embedded() = %v, but site/dist/index.html exists: %v (the binary embeds site/dist as it was at compile time)", built, onDisk)
	}
}

// TestListHeadersOverLines: a list header sent as several lines (or split into values,
// as the Worker's request conversion does) counts whole.
func TestListHeadersOverLines(t *testing.T) {
	fsys := testFS(t)
	h := Handler(fsys, Options{})
	req := httptest.NewRequest("GET", "/app.wasm", nil)
	req.Header.Add("Accept-Encoding", "br")
	req.Header.Add("Accept-Encoding", " gzip")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Errorf("Accept-Encoding over two lines (br, gzip): Content-Encoding %q, want gzip", rec.Header().Get("Content-Encoding"))
	}
	etag := rec.Header().Get("ETag")
	req = httptest.NewRequest("GET", "/app.wasm", nil)
	req.Header.Add("Accept-Encoding", "gzip")
	req.Header.Add("If-None-Match", `"other"`)
	req.Header.Add("If-None-Match", etag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match over two lines naming the ETag: %d, want 304", rec.Code)
	}
}
