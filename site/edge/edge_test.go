package edge

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"ladle/site"
)

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// distFS is a small dist folder with every kind of file the playground has.
func distFS() fstest.MapFS {
	page := []byte(strings.Repeat("<p>ladle</p>", 200))
	wasm := bytes.Repeat([]byte("\x00asm"), 5000)
	return fstest.MapFS{
		"index.html":                   {Data: page},
		"index.html.gz":                {Data: gz(page)},
		"wasm_exec.js":                 {Data: []byte("// go")},
		"app.js":                       {Data: []byte("// app")},
		"css/ladle.css":                {Data: []byte("body{}")},
		"icons/ladle.svg":              {Data: []byte("<svg/>")},
		"app.wasm":                     {Data: wasm},
		"app.wasm.gz":                  {Data: gz(wasm)},
		"engine.3f9a0c1d.wasm":         {Data: wasm[:10]},
		"big.js":                       {Data: bytes.Repeat([]byte("x"), MaxWorkerFile+1)},
		"screenshot.png":               {Data: []byte("\x89PNG")},
		"labs/index.json":              {Data: []byte("[]")},
		"labs/index.json.gz":           {Data: gz([]byte("[]"))},
		"labs/soups/lab.json":          {Data: []byte("{}")},
		"labs/soups/a.safetensors":     {Data: []byte("12345678{}")},
		"labs/soups/uniform.yaml":      {Data: []byte("merge_method: linear")},
		"labs/soups/notes.html":        {Data: []byte("<p>a lab's page is still the lab's</p>")},
		"labs/soups/data":              {Data: []byte("no extension")},
		".hidden/secret.js":            {Data: []byte("no")},
		"standalone.gz":                {Data: gz([]byte("a data file"))},
		"labs/soups/b.safetensors":     {Data: []byte("12345678{}")},
		"labs/soups/b.safetensors.bak": {Data: []byte("editor backup")},
	}
}

func TestSplit(t *testing.T) {
	l, err := Split(distFS())
	if err != nil {
		t.Fatal(err)
	}
	wantWorker := []string{"app.js", "css/ladle.css", "icons/ladle.svg", "index.html", "index.html.gz", "wasm_exec.js"}
	if !slices.Equal(l.Worker, wantWorker) {
		t.Errorf("Worker = %q, want %q", l.Worker, wantWorker)
	}
	wantAssets := []string{"app.wasm", "big.js", "engine.3f9a0c1d.wasm", "labs/index.json", "labs/soups/a.safetensors",
		"labs/soups/b.safetensors", "labs/soups/b.safetensors.bak", "labs/soups/data", "labs/soups/lab.json",
		"labs/soups/notes.html", "labs/soups/uniform.yaml", "screenshot.png", "standalone.gz"}
	if !slices.Equal(l.Assets, wantAssets) {
		t.Errorf("Assets = %q, want %q", l.Assets, wantAssets)
	}
	if want := []string{"app.wasm.gz", "labs/index.json.gz"}; !slices.Equal(l.Dropped, want) {
		t.Errorf("Dropped = %q, want %q", l.Dropped, want)
	}
	// every file is in exactly one place, nothing model-related on the Worker
	seen := map[string]int{}
	for _, list := range [][]string{l.Worker, l.Assets, l.Dropped} {
		for _, n := range list {
			seen[n]++
		}
	}
	for n := range distFS() {
		if strings.HasPrefix(n, ".") {
			if seen[n] != 0 {
				t.Errorf("the hidden file %s was placed", n)
			}
			continue
		}
		if seen[n] != 1 {
			t.Errorf("%s is placed %d times", n, seen[n])
		}
	}
	for _, n := range l.Worker {
		if strings.HasPrefix(n, "labs/") || strings.Contains(n, ".wasm") || strings.Contains(n, ".safetensors") {
			t.Errorf("the Worker embeds %s", n)
		}
	}
}

func TestSplitRefusesHugeAsset(t *testing.T) {
	fsys := fstest.MapFS{"index.html": {Data: []byte("x")}, "labs/huge.safetensors": {Data: make([]byte, MaxAsset+1)}}
	_, err := Split(fsys)
	if err == nil || !strings.Contains(err.Error(), "labs/huge.safetensors") || !strings.Contains(err.Error(), "25 MiB") {
		t.Fatalf("Split of a 25 MiB + 1 asset: %v", err)
	}
}

// TestHeadersFileMatchesHandler: under Cloudflare's reading of _headers (every
// matching rule, duplicates joined), each asset gets exactly the handler's headers
// less the platform's own; the shared ones are grouped.
func TestHeadersFileMatchesHandler(t *testing.T) {
	fsys := distFS()
	l, err := Split(fsys)
	if err != nil {
		t.Fatal(err)
	}
	text, err := HeadersFile(fsys, l.Assets, site.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rules, err := ParseHeaders(text)
	if err != nil {
		t.Fatal(err)
	}
	h := site.Handler(fsys, site.Options{})
	for _, name := range l.Assets {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/"+name, nil))
		want := rec.Result().Header
		for _, k := range PlatformHeaders {
			want.Del(k)
		}
		got := rules.Apply("/" + name)
		if !sameHeaders(got, want) {
			t.Errorf("%s: _headers gives\n%v\nthe handler sends\n%v", name, got, want)
		}
		for _, k := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Cross-Origin-Embedder-Policy", "Cross-Origin-Resource-Policy", "Content-Type", "Cache-Control"} {
			if got.Get(k) == "" {
				t.Errorf("%s: no %s", name, k)
			}
		}
	}
	if got := rules.Apply("/engine.3f9a0c1d.wasm").Get("Cache-Control"); got != site.ImmutableMaxAge {
		t.Errorf("a content-hashed asset's Cache-Control: %q", got)
	}
	if got := rules.Apply("/app.wasm").Get("Vary"); got != "Accept-Encoding" {
		t.Errorf("an asset with a compressed variant has Vary %q", got)
	}
	// grouped: one /* rule with the security headers, one per extension (9), and one
	// for each file that differs from its kind: Vary (2), a content hash (1), no
	// extension (1)
	if len(rules) != 14 || rules[0].Pattern != "/*" {
		t.Errorf("%d rules, the first %q:\n%s", len(rules), rules[0].Pattern, text)
	}
	if strings.Count(string(text), "Content-Security-Policy") != 1 {
		t.Errorf("the CSP is repeated instead of shared:\n%s", text)
	}
}

func TestHeadersFileRefusesPatternNames(t *testing.T) {
	fsys := fstest.MapFS{"index.html": {Data: []byte("x")}, "labs/a*b.yaml": {Data: []byte("x")}}
	_, err := HeadersFile(fsys, []string{"labs/a*b.yaml"}, site.Options{})
	if err == nil || !strings.Contains(err.Error(), "labs/a*b.yaml") {
		t.Fatalf("HeadersFile of a name with a splat: %v", err)
	}
}

func TestHeadersFileRuleLimit(t *testing.T) {
	fsys := fstest.MapFS{"index.html": {Data: []byte("x")}}
	var assets []string
	for i := range MaxHeaderRules + 5 { // content-hashed names need a rule each
		name := "a" + strings.Repeat("b", i) + ".0123abcd.wasm"
		fsys[name] = &fstest.MapFile{Data: []byte("x")}
		assets = append(assets, name)
	}
	fsys["plain.wasm"] = &fstest.MapFile{Data: []byte("x")}
	assets = append(assets, "plain.wasm")
	_, err := HeadersFile(fsys, assets, site.Options{})
	if err == nil || !strings.Contains(err.Error(), "over Cloudflare's 100") {
		t.Fatalf("HeadersFile needing more than 100 rules: %v", err)
	}
}

func TestRulesApply(t *testing.T) {
	rules, err := ParseHeaders([]byte("# comment\n/*\n  X-A: 1\n  Cache-Control: no-cache\n\n/*.jpg\n  X-A: 2\n  ! Cache-Control\n/movies/:title\n  X-Movie: yes\n"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path string
		want http.Header
	}{
		{"/a.html", http.Header{"X-A": {"1"}, "Cache-Control": {"no-cache"}}},
		{"/img/a.jpg", http.Header{"X-A": {"1, 2"}}},
		{"/movies/up", http.Header{"X-A": {"1"}, "Cache-Control": {"no-cache"}, "X-Movie": {"yes"}}},
		{"/movies/up/down", http.Header{"X-A": {"1"}, "Cache-Control": {"no-cache"}}},
	}
	for _, c := range cases {
		if got := rules.Apply(c.path); !sameHeaders(got, c.want) {
			t.Errorf("%s: %v, want %v", c.path, got, c.want)
		}
	}
	if _, err := ParseHeaders([]byte("  X-A: 1\n")); err == nil {
		t.Error("a header before any pattern parsed")
	}
	if _, err := ParseHeaders([]byte("/*\n  no colon\n")); err == nil {
		t.Error("a header line without a colon parsed")
	}
}

func TestWorkerHandler(t *testing.T) {
	fsys := distFS()
	l, _ := Split(fsys)
	page := fstest.MapFS{}
	for _, n := range l.Worker {
		page[n] = fsys[n]
	}
	// The Worker's handler and `ladle serve`'s give the same answer for the page, as
	// `ladle serve` answers a request without Accept-Encoding: the platform
	// compresses, and the Worker never sees what the browser accepts.
	for _, target := range []string{"/", "/index.html", "/wasm_exec.js", "/nothing"} {
		for _, enc := range []string{"", "gzip", "br, gzip"} {
			a, b := httptest.NewRecorder(), httptest.NewRecorder()
			req := httptest.NewRequest("GET", target, nil)
			req.Header.Set("Accept-Encoding", enc)
			WorkerHandler(page).ServeHTTP(a, req)
			site.Handler(fsys, site.Options{}).ServeHTTP(b, httptest.NewRequest("GET", target, nil))
			if a.Header().Get("Content-Length") != "" {
				t.Errorf("GET %s: the Worker's handler sets Content-Length (the entry script does)", target)
			}
			b.Header().Del("Content-Length")
			if a.Code != b.Code || !sameHeaders(a.Header(), b.Header()) || !bytes.Equal(a.Body.Bytes(), b.Body.Bytes()) {
				t.Errorf("GET %s (Accept-Encoding %q): the Worker answers %d %v, ladle serve %d %v", target, enc, a.Code, a.Header(), b.Code, b.Header())
			}
		}
	}
	rec := httptest.NewRecorder()
	WorkerHandler(page).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Header().Get("Vary") != "Accept-Encoding" {
		t.Errorf("the page's Vary: %q (the platform compresses it)", rec.Header().Get("Vary"))
	}
	// Without a page: 503, how to build one, and the security headers.
	rec = httptest.NewRecorder()
	WorkerHandler(fstest.MapFS{"README.md": {Data: []byte("placeholder")}}).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "go run ./build worker") ||
		rec.Header().Get("Content-Security-Policy") != site.DefaultCSP {
		t.Errorf("a Worker without its page: %d %v %q", rec.Code, rec.Header(), rec.Body.String())
	}
}
