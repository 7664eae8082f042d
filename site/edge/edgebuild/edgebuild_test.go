package edgebuild

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ladle/site/bundle"
	"ladle/site/edge"
)

// writeDist writes a small built playground.
func writeDist(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"index.html":               "<!doctype html><title>Ladle</title>" + strings.Repeat(" ", 2000),
		"wasm_exec.js":             "// go",
		"engine.js":                "// engine",
		"engine.wasm":              "\x00asm",
		"app.wasm":                 "\x00asm",
		"css/ladle.css":            "body{}",
		"labs/index.json":          "[]",
		"labs/soups/a.safetensors": "12345678{}",
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestBuild builds the Worker from a small dist (no wrangler needed): the wasm, the
// glue, wrangler.jsonc, the assets with their _headers, and the source tree left as
// it was.
func TestBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a js/wasm binary")
	}
	root, ok := bundle.FindRoot(".")
	if !ok {
		t.Fatal("not inside the Ladle source tree")
	}
	pageDir := filepath.Join(root, "site", "worker", "page")
	before, err := os.ReadDir(pageDir)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	res, err := Build(context.Background(), Options{Root: root, Dist: writeDist(t), Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"css/ladle.css", "engine.js", "index.html", "wasm_exec.js"}; !slices.Equal(res.Layout.Worker, want) {
		t.Errorf("the Worker embeds %q, want %q", res.Layout.Worker, want)
	}
	for _, name := range []string{"build/app.wasm", "build/worker.mjs", "build/runtime.mjs", "build/wasm_exec.js", "build/entry.mjs",
		"assets/_headers", "assets/app.wasm", "assets/engine.wasm", "assets/labs/index.json", "assets/labs/soups/a.safetensors", "page/index.html"} {
		if _, err := os.Stat(filepath.Join(out, filepath.FromSlash(name))); err != nil {
			t.Errorf("the build lacks %s", name)
		}
	}
	for _, name := range []string{"assets/index.html", "assets/wasm_exec.js", "page/app.wasm", "page/labs"} {
		if _, err := os.Stat(filepath.Join(out, filepath.FromSlash(name))); err == nil {
			t.Errorf("the build has %s", name)
		}
	}
	// the wasm embeds the page, not the placeholder README
	wasm, err := os.ReadFile(filepath.Join(out, "build", "app.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(wasm, []byte("<!doctype html><title>Ladle</title>")) || bytes.Contains(wasm, []byte("# site/worker/page")) {
		t.Error("app.wasm does not embed the page, or embeds the placeholder")
	}
	if res.WasmBytes != int64(len(wasm)) || res.WasmGzipBytes <= 0 || res.WasmGzipBytes >= res.WasmBytes || res.WasmBytes > 64<<20 {
		t.Errorf("wasm sizes %d raw, %d gzipped", res.WasmBytes, res.WasmGzipBytes)
	}
	t.Logf("the Worker's wasm: %d bytes raw, %d gzipped", res.WasmBytes, res.WasmGzipBytes)
	// wrangler.jsonc: JSON after its comment line, naming the entry and the assets
	cfg, err := os.ReadFile(res.Config)
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := strings.Cut(string(cfg), "\n")
	var c struct {
		Main   string `json:"main"`
		Assets struct {
			Directory string `json:"directory"`
		} `json:"assets"`
	}
	if err := json.Unmarshal([]byte(body), &c); err != nil || c.Main != "build/entry.mjs" || c.Assets.Directory != "assets" {
		t.Errorf("wrangler.jsonc: %v %+v\n%s", err, c, cfg)
	}
	headers, err := os.ReadFile(filepath.Join(out, "assets", "_headers"))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := edge.ParseHeaders(headers)
	if err != nil {
		t.Fatal(err)
	}
	if h := rules.Apply("/labs/soups/a.safetensors"); h.Get("Content-Type") != "application/octet-stream" || h.Get("Cross-Origin-Resource-Policy") != "same-origin" {
		t.Errorf("_headers for a lab checkpoint: %v", h)
	}
	// the source tree's page folder is as it was
	after, err := os.ReadDir(pageDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("the build wrote into %s: %d entries, before %d", pageDir, len(after), len(before))
	}
}

func TestFindWranglerHonoursEnv(t *testing.T) {
	t.Setenv("LADLE_WRANGLER", filepath.Join(t.TempDir(), "no-such-wrangler"))
	if _, err := FindWrangler(); err == nil || !strings.Contains(err.Error(), "LADLE_WRANGLER") {
		t.Errorf("FindWrangler with a missing LADLE_WRANGLER: %v", err)
	}
}
