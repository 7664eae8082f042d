package playground

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"ladle/site/bundle"
	"ladle/site/edge/edgebuild"
)

// platformOwned are response headers that say how a host framed or cached a response,
// not what it serves: they are left out when the two hosts' headers are compared.
var platformOwned = []string{"Date", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Server", "Cf-Cache-Status"}

// fetch GETs url with no automatic decompression, so that the headers are the host's.
func fetch(t *testing.T, url string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 60 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Content-Encoding") == "gzip" && resp.StatusCode == http.StatusOK {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: a gzip body that does not read: %v", url, err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
	}
	return resp, body
}

// headerSet is a response's headers less platformOwned (and the ETag when etag is
// false), one "Name: value" line each, sorted.
func headerSet(h http.Header, etag bool) []string {
	var out []string
	for k, v := range h {
		if slices.Contains(platformOwned, k) || k == "Etag" && !etag {
			continue
		}
		out = append(out, k+": "+strings.Join(v, ", "))
	}
	sort.Strings(out)
	return out
}

// compareHosts checks that the Worker answers path with the status, headers and bytes
// of `ladle serve`, with and without gzip, and that both revalidate with 304. The
// ETag's value is compared where both hosts send the same representation: the
// Worker's own files asked for without compression. A static asset's ETag is the
// platform's own hash of the same bytes, and with compression ladle serve sends its
// pre-compressed file while the platform compresses the Worker's identity bytes.
func compareHosts(t *testing.T, serve, worker, path string, asset bool) {
	t.Helper()
	want, err := os.ReadFile(filepath.Join(sharedDist, filepath.FromSlash(strings.TrimPrefix(path, "/"))))
	if path == "/" {
		want, err = os.ReadFile(filepath.Join(sharedDist, "index.html"))
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range []string{"", "gzip", "gzip, deflate, br"} {
		hdr := map[string]string{"Accept-Encoding": enc}
		a, aBody := fetch(t, serve+path, hdr)
		b, bBody := fetch(t, worker+path, hdr)
		if a.StatusCode != http.StatusOK || b.StatusCode != http.StatusOK {
			t.Errorf("GET %s (Accept-Encoding %q): ladle serve %d, the Worker %d", path, enc, a.StatusCode, b.StatusCode)
			continue
		}
		sameETag := !asset && enc == ""
		if x, y := headerSet(a.Header, sameETag), headerSet(b.Header, sameETag); !slices.Equal(x, y) {
			t.Errorf("GET %s (Accept-Encoding %q): the headers differ\nladle serve:\n  %s\nthe Worker:\n  %s", path, enc, strings.Join(x, "\n  "), strings.Join(y, "\n  "))
		}
		if !bytes.Equal(aBody, want) || !bytes.Equal(bBody, want) {
			t.Errorf("GET %s (Accept-Encoding %q): the bytes differ from the dist's (ladle serve %d, the Worker %d, want %d)", path, enc, len(aBody), len(bBody), len(want))
		}
		for host, r := range map[string]*http.Response{"ladle serve": a, "the Worker": b} {
			etag := r.Header.Get("Etag")
			if !strings.HasPrefix(etag, `"`) {
				t.Errorf("GET %s from %s: no strong ETag (%q)", path, host, etag)
				continue
			}
			base := serve
			if host == "the Worker" {
				base = worker
			}
			if again, _ := fetch(t, base+path, map[string]string{"Accept-Encoding": enc, "If-None-Match": etag}); again.StatusCode != http.StatusNotModified {
				t.Errorf("GET %s from %s with If-None-Match its ETag: %d, want 304", path, host, again.StatusCode)
			}
		}
	}
}

// ttfb is the median time to the first byte of GET path, over n requests.
func ttfb(t *testing.T, url string, n int) time.Duration {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	var times []time.Duration
	for range n {
		start := time.Now()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, time.Since(start)) // Get returns once the headers are in
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	slices.Sort(times)
	return times[len(times)/2]
}

// TestEdgeWorker builds the Cloudflare Worker (site/worker) from the same dist as
// `ladle serve`, runs it in workerd (wrangler dev) and checks, through it: the
// headers and bytes of the page, a wasm file and lab files against `ladle serve`;
// ?lab= and #recipe= links; and the burn-mnist soup merged in the page, byte for byte
// the native merge. It skips with a message where wrangler is not installed.
func TestEdgeWorker(t *testing.T) {
	if _, err := edgebuild.FindWrangler(); err != nil {
		t.Skipf("edge test skipped: %v; CI installs it", err)
	}
	b := openPage(t)
	root, ok := bundle.FindRoot(".")
	if !ok {
		t.Fatal("not inside the Ladle source tree")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out := t.TempDir()
	res, err := edgebuild.Build(ctx, edgebuild.Options{Root: root, Dist: sharedDist, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range res.Layout.Worker {
		if strings.Contains(name, ".wasm") || strings.HasPrefix(name, "labs/") {
			t.Errorf("the Worker embeds %s", name)
		}
	}
	// Ready once the platform serves a static asset, which does not start the Worker;
	// the first GET / then is the Worker's cold start.
	d, err := edgebuild.Dev(ctx, edgebuild.DevOptions{Out: out, Addr: "127.0.0.1:0", Timeout: 3 * time.Minute, ReadyPath: "/labs/index.json"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Stop()
		if t.Failed() {
			t.Logf("wrangler dev said:\n%s", d.Output())
		}
	})
	cold := ttfb(t, d.URL+"/", 1)
	t.Logf("the Worker's wasm: %.2f MiB raw, %.2f MiB gzipped; %d static assets (%.1f MiB) beside it",
		float64(res.WasmBytes)/(1<<20), float64(res.WasmGzipBytes)/(1<<20), len(res.Layout.Assets), float64(res.AssetBytes)/(1<<20))
	t.Logf("workerd: wrangler dev served a static asset after %v (first byte %v); the first GET / (the Worker's cold start) took %v to its first byte",
		d.Ready.Round(time.Millisecond), d.FirstByte.Round(time.Millisecond), cold.Round(time.Millisecond))
	t.Logf("time to first byte of GET / (median of 20): the Worker in workerd %v, ladle serve %v",
		ttfb(t, d.URL+"/", 20).Round(100*time.Microsecond), ttfb(t, sharedSrv.URL+"/", 20).Round(100*time.Microsecond))

	compareHosts(t, sharedSrv.URL, d.URL, "/", false)
	compareHosts(t, sharedSrv.URL, d.URL, "/wasm_exec.js", false)
	compareHosts(t, sharedSrv.URL, d.URL, "/app.wasm", true)
	compareHosts(t, sharedSrv.URL, d.URL, "/labs/soups/lab.json", true)
	compareHosts(t, sharedSrv.URL, d.URL, "/labs/soups/pre.safetensors", true)
	for _, p := range []string{"/no-such-file", "/.hidden"} {
		a, _ := fetch(t, sharedSrv.URL+p, nil)
		w, _ := fetch(t, d.URL+p, nil)
		if a.StatusCode != http.StatusNotFound || w.StatusCode != http.StatusNotFound || !slices.Equal(headerSet(a.Header, true), headerSet(w.Header, true)) {
			t.Errorf("GET %s: ladle serve %d %v, the Worker %d %v", p, a.StatusCode, a.Header, w.StatusCode, w.Header)
		}
	}

	// The page through the Worker: workshop links, then a merge. The browser goes
	// through retryProxy, which asks the local emulator again for a request it left
	// unanswered (see edgeproxy_test.go).
	page, retries := newRetryProxy(t, d.URL)
	defer func() {
		if n := retries(); n > 0 {
			t.Logf("wrangler dev left %d requests unanswered for %v; each was asked again", n, edgeAttemptTimeout)
		}
	}()
	checkLinks(t, b, page)
	paths := burnFixtures(t)
	navigate(t, b, page+"/")
	setFiles(t, b, paths)
	waitFor(t, b, modelsListed(paths)+" && "+runEnabled, 30*time.Second)
	recipe := eval[string](t, b, editorText)
	click(t, b, "run")
	waitFor(t, b, hasResult+" || "+errorVisible, 60*time.Second)
	if eval[bool](t, b, errorVisible) {
		t.Fatalf("the merge on the Worker's page failed\n%s", pageState(b))
	}
	got := download(t, b)
	if want := nativeMerge(t, filepath.Dir(paths[0]), recipe); !bytes.Equal(got, want) {
		t.Fatalf("the merge on the Worker's page (%d bytes) differs from the native merge (%d bytes) of\n%s", len(got), len(want), recipe)
	}
}
