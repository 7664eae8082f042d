// Package edgebuild builds Ladle's Cloudflare Worker (package ladle/site/worker) with
// its static assets and wrangler configuration, and runs it locally in workerd through
// wrangler. `go run ./build worker` and the tests share it. It runs the go command and
// npm's wrangler, so it is native-only.
//
// The output folder:
//
//	wrangler.jsonc   the Worker's configuration (assets, entry point)
//	build/           app.wasm (the Worker), entry.mjs and syumai/workers' JavaScript glue
//	assets/          the static assets, with _headers (package ladle/site/edge)
//	page/            the files the Worker embeds (a copy, for reading)
//	overlay.json     the go build -overlay that embedded page/ into app.wasm
package edgebuild

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"ladle/site"
	"ladle/site/bundle"
	"ladle/site/edge"
)

// WorkerPackage is the import path of the Worker's main package.
const WorkerPackage = "ladle/site/worker"

// CompatibilityDate is the Workers runtime behaviour the Worker is written against.
const CompatibilityDate = "2025-09-01"

// Options say what to build and where.
type Options struct {
	// Root is the module root (the folder of go.mod).
	Root string
	// Dist is a built playground to take the files from; when empty, Build builds one
	// into Out/dist (bundle.Build).
	Dist string
	// Out is the output folder; its old build, assets and page are replaced.
	Out string
	// Name is the Worker's name on Cloudflare ("ladle" when empty).
	Name string
	// Go is the go command ("go" when empty).
	Go string
	// Log receives one line per step (nil: quiet).
	Log io.Writer
	// Vugugen is passed to bundle.Build when Build builds the dist.
	Vugugen bool
}

// Result describes a build.
type Result struct {
	Out    string      // the output folder
	Config string      // Out/wrangler.jsonc
	Layout edge.Layout // which files went where
	// WasmBytes and WasmGzipBytes are the size of the Worker's wasm, raw and gzipped
	// (what Cloudflare's limits count).
	WasmBytes, WasmGzipBytes int64
	// AssetBytes is the total size of the static assets.
	AssetBytes int64
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

func (o *Options) goCmd() string {
	if o.Go != "" {
		return o.Go
	}
	return "go"
}

// Build writes the Worker, its assets and its configuration into opts.Out.
func Build(ctx context.Context, opts Options) (*Result, error) {
	if opts.Root == "" || opts.Out == "" {
		return nil, errors.New("edgebuild: Root and Out must be set")
	}
	var err error
	if opts.Root, err = filepath.Abs(opts.Root); err != nil {
		return nil, err
	}
	if opts.Out, err = filepath.Abs(opts.Out); err != nil {
		return nil, err
	}
	if opts.Name == "" {
		opts.Name = "ladle"
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, err
	}
	if opts.Dist == "" {
		opts.Dist = filepath.Join(opts.Out, "dist")
		if err := bundle.Build(ctx, bundle.Options{Root: opts.Root, Out: opts.Dist, Go: opts.Go, Log: opts.Log, Vugugen: opts.Vugugen}); err != nil {
			return nil, err
		}
	}
	distFS := os.DirFS(opts.Dist)
	if err := site.CheckDist(distFS); err != nil {
		return nil, fmt.Errorf("%s: %w", opts.Dist, err)
	}
	layout, err := edge.Split(distFS)
	if err != nil {
		return nil, err
	}
	res := &Result{Out: opts.Out, Config: filepath.Join(opts.Out, "wrangler.jsonc"), Layout: layout}
	for _, dir := range []string{"assets", "page", "build"} {
		if err := os.RemoveAll(filepath.Join(opts.Out, dir)); err != nil {
			return nil, err
		}
	}
	// The static assets and their headers.
	opts.logf("static assets: %d files; the Worker embeds %d", len(layout.Assets), len(layout.Worker))
	for _, name := range layout.Assets {
		n, err := copyFile(filepath.Join(opts.Dist, filepath.FromSlash(name)), filepath.Join(opts.Out, "assets", filepath.FromSlash(name)))
		if err != nil {
			return nil, err
		}
		res.AssetBytes += n
	}
	headers, err := edge.HeadersFile(distFS, layout.Assets, site.Options{})
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(opts.Out, "assets", "_headers"), headers, 0o644); err != nil {
		return nil, err
	}
	// The Worker's own files, embedded through an overlay onto site/worker/page.
	overlay := map[string]string{}
	pkgPage := filepath.Join(opts.Root, "site", "worker", "page")
	if entries, err := os.ReadDir(pkgPage); err == nil {
		for _, e := range entries { // the placeholder(s) in the source tree
			overlay[filepath.Join(pkgPage, e.Name())] = ""
		}
	}
	for _, name := range layout.Worker {
		dst := filepath.Join(opts.Out, "page", filepath.FromSlash(name))
		if _, err := copyFile(filepath.Join(opts.Dist, filepath.FromSlash(name)), dst); err != nil {
			return nil, err
		}
		overlay[filepath.Join(pkgPage, filepath.FromSlash(name))] = dst
	}
	ov, _ := json.MarshalIndent(map[string]any{"Replace": overlay}, "", "  ")
	ovPath := filepath.Join(opts.Out, "overlay.json")
	if err := os.WriteFile(ovPath, ov, 0o644); err != nil {
		return nil, err
	}
	// syumai/workers' JavaScript glue, then the Worker's wasm.
	buildDir := filepath.Join(opts.Out, "build")
	opts.logf("go run github.com/syumai/workers/cmd/workers-assets-gen -mode=go → %s", buildDir)
	if err := opts.run(ctx, nil, "run", "github.com/syumai/workers/cmd/workers-assets-gen", "-mode=go", "-o", buildDir); err != nil {
		return nil, err
	}
	wasm := filepath.Join(buildDir, "app.wasm")
	opts.logf("go build %s → %s", WorkerPackage, wasm)
	if err := opts.run(ctx, []string{"GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0"},
		"build", "-trimpath", "-ldflags=-s -w", "-overlay", ovPath, "-o", wasm, "./site/worker"); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(buildDir, "entry.mjs"), []byte(entryJS), 0o644); err != nil {
		return nil, err
	}
	if res.WasmBytes, res.WasmGzipBytes, err = sizes(wasm); err != nil {
		return nil, err
	}
	if err := os.WriteFile(res.Config, wranglerConfig(opts.Name), 0o644); err != nil {
		return nil, err
	}
	opts.logf("the Worker's wasm: %s raw, %s gzipped", mib(res.WasmBytes), mib(res.WasmGzipBytes))
	return res, nil
}

// entryJS is the Worker's entry point around syumai/workers' worker.mjs, which starts
// a fresh Go program for every request. It reads the Go handler's body whole (the
// Worker's files are at most edge.MaxWorkerFile) and answers with it, so that the
// answer has its Content-Length and the Go program is done with when the answer
// leaves. For HEAD, the Go handler answers a GET and only the status and headers are
// sent.
const entryJS = `// Generated by ` + "`go run ./build worker`" + ` (package ladle/site/edge/edgebuild). Do not edit.
import worker from "./worker.mjs";

export default {
  async fetch(request, env, ctx) {
    const head = request.method === "HEAD";
    const response = await worker.fetch(head ? new Request(request, { method: "GET" }) : request, env, ctx);
    const body = response.body === null ? null : await response.arrayBuffer();
    return new Response(head ? null : body, { status: response.status, statusText: response.statusText, headers: response.headers });
  },
};
`

// wranglerConfig is wrangler.jsonc: the Go Worker in front of the static assets. A
// request for an asset is answered by the platform without running the Worker;
// everything else (the page, its scripts, 404s) goes to the Worker.
func wranglerConfig(name string) []byte {
	cfg := map[string]any{
		"name":               name,
		"main":               "build/entry.mjs",
		"compatibility_date": CompatibilityDate,
		"assets": map[string]any{
			"directory":          "assets",
			"html_handling":      "none",
			"not_found_handling": "none",
		},
		"workers_dev":  true,
		"preview_urls": false,
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	return append([]byte("// Generated by `go run ./build worker`; deploy with `go run ./build worker --deploy`. Do not edit.\n"), append(b, '\n')...)
}

func (o *Options) run(ctx context.Context, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, o.goCmd(), args...)
	cmd.Dir = o.Root
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}

func copyFile(src, dst string) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, err
	}
	out, err := os.Create(dst)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, in)
	if err != nil {
		out.Close()
		return 0, err
	}
	return n, out.Close()
}

// sizes returns a file's size raw and gzipped (default level, as a host would send it).
func sizes(name string) (raw, gz int64, err error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, 0, err
	}
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	if err := w.Close(); err != nil {
		return 0, 0, err
	}
	return int64(len(b)), int64(buf.Len()), nil
}

func mib(n int64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }
