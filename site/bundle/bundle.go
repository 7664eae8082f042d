// Package bundle builds the playground's dist folder from the source tree: every main
// package under wasm/ compiled for js/wasm (app.wasm, engine.wasm, ...), wasm_exec.js of
// the Go that compiled them, index.html, the files of public/ (engine.js, app.js, css,
// icons, labs) and .gz copies of the large compressible files. `go run ./build` and
// `ladle serve` share it (a main package cannot be imported).
//
// It runs the go command, so it needs Go installed; it is native-only in practice
// (nothing under wasm/ or core/ imports it).
package bundle

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"go/format"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Options say what to build and where.
type Options struct {
	// Root is the module root (the folder of go.mod).
	Root string
	// Out is the dist folder to write. Its old contents are replaced, except a README.md.
	Out string
	// Go is the go command ("go" when empty).
	Go string
	// Log receives one line per step (nil: quiet).
	Log io.Writer
	// SyncWasmExec also copies wasm_exec.js of the Go installation to the repository's
	// top level, so the committed copy matches the toolchain (`go run ./build dist`).
	SyncWasmExec bool
	// Vugugen runs vugugen (`go tool vugugen`) on every folder of ui/ that holds .vugu
	// files, when the tool is declared in go.mod. Generated files are committed, so
	// this is off for builds that must not touch the source tree (ladle serve).
	Vugugen bool
	// NoGzip skips the .gz copies.
	NoGzip bool
}

// MinGzip is the smallest file that gets a .gz copy.
const MinGzip = 1024

// compressible lists the extensions worth a .gz copy.
var compressible = map[string]bool{".wasm": true, ".js": true, ".css": true, ".html": true, ".json": true, ".svg": true,
	".txt": true, ".md": true, ".csv": true, ".yaml": true, ".yml": true, ".map": true}

// SourceDirs are the folders whose files make the dist (besides the top-level files).
var SourceDirs = []string{"core", "ui", "wasm", "public"}

// TopFiles are the top-level files that make the dist.
var TopFiles = []string{"go.mod", "go.sum", "index.html", "wasm_exec.js"}

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

// Build writes the dist folder.
func Build(ctx context.Context, opts Options) error {
	if opts.Root == "" || opts.Out == "" {
		return errors.New("bundle: Root and Out must be set")
	}
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return err
	}
	opts.Root = root
	if opts.Out, err = filepath.Abs(opts.Out); err != nil {
		return err
	}
	if err := clearDir(opts.Out); err != nil {
		return err
	}
	if opts.Vugugen {
		if err := runVugugen(ctx, &opts); err != nil {
			return err
		}
	}
	goroot, err := goEnv(ctx, &opts, "GOROOT")
	if err != nil {
		return err
	}
	mains, err := wasmMains(ctx, &opts)
	if err != nil {
		return err
	}
	if len(mains) == 0 {
		return errors.New("bundle: no main package under wasm/")
	}
	for _, m := range mains {
		out := filepath.Join(opts.Out, filepath.Base(m)+".wasm")
		opts.logf("go build %s → %s", m, rel(opts.Root, out))
		cmd := exec.CommandContext(ctx, opts.goCmd(), "build", "-trimpath", "-ldflags=-s -w", "-o", out, m)
		cmd.Dir = opts.Root
		cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s for js/wasm: %v\n%s", m, err, b)
		}
	}
	wasmExec, err := findWasmExec(goroot)
	if err != nil {
		return err
	}
	if err := copyFile(wasmExec, filepath.Join(opts.Out, "wasm_exec.js")); err != nil {
		return err
	}
	if opts.SyncWasmExec {
		top := filepath.Join(opts.Root, "wasm_exec.js")
		if same, _ := sameContent(wasmExec, top); !same {
			opts.logf("updating %s from %s", rel(opts.Root, top), wasmExec)
			if err := copyFile(wasmExec, top); err != nil {
				return err
			}
		}
	}
	if err := copyFile(filepath.Join(opts.Root, "index.html"), filepath.Join(opts.Out, "index.html")); err != nil {
		return err
	}
	if public := filepath.Join(opts.Root, "public"); isDir(public) {
		opts.logf("copying public/")
		if err := copyTree(public, opts.Out); err != nil {
			return err
		}
	}
	if !opts.NoGzip {
		if err := gzipTree(&opts); err != nil {
			return err
		}
	}
	return nil
}

// Cached builds the dist into cacheDir/<source hash> unless it is there already, and
// returns that folder. Only the newest few builds are kept.
func Cached(ctx context.Context, opts Options, cacheDir string) (string, error) {
	hash, err := SourceHash(ctx, opts)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cacheDir, hash[:20])
	if isFile(filepath.Join(dir, "build.json")) {
		return dir, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(cacheDir, "building-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	opts.Out = tmp
	if err := Build(ctx, opts); err != nil {
		return "", err
	}
	info, _ := json.Marshal(map[string]string{"source": hash, "built": time.Now().UTC().Format(time.RFC3339)})
	if err := os.WriteFile(filepath.Join(tmp, "build.json"), info, 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if isFile(filepath.Join(dir, "build.json")) { // another process built it meanwhile
			return dir, nil
		}
		return "", err
	}
	pruneCache(cacheDir, dir, 3)
	return dir, nil
}

// DefaultCacheDir is where Cached builds go: the user's cache folder.
func DefaultCacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil { // no $HOME or $XDG_CACHE_HOME: the temporary folder then
		base = os.TempDir()
	}
	return filepath.Join(base, "ladle", "dist"), nil
}

// SourceHash hashes everything a build depends on: the go command's version, the
// top-level files and every file under SourceDirs (test files excepted).
func SourceHash(ctx context.Context, opts Options) (string, error) {
	version, err := goEnv(ctx, &opts, "GOVERSION")
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "go %s\nbundle 1\n", version)
	add := func(relPath, abs string) error {
		f, err := os.Open(abs)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", filepath.ToSlash(relPath), fi.Size())
		_, err = io.Copy(h, f)
		return err
	}
	for _, name := range TopFiles {
		if p := filepath.Join(opts.Root, name); isFile(p) {
			if err := add(name, p); err != nil {
				return "", err
			}
		}
	}
	for _, dir := range SourceDirs {
		base := filepath.Join(opts.Root, dir)
		if !isDir(base) {
			continue
		}
		var files []string
		err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if d.IsDir() {
				if p != base && (strings.HasPrefix(name, ".") || name == "testdata") {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(name, "_test.go") || strings.HasPrefix(name, ".") || !d.Type().IsRegular() {
				return nil
			}
			files = append(files, p)
			return nil
		})
		if err != nil {
			return "", err
		}
		sort.Strings(files)
		for _, p := range files {
			r, _ := filepath.Rel(opts.Root, p)
			if err := add(r, p); err != nil {
				return "", err
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// FindRoot walks up from dir to the folder whose go.mod declares module ladle.
func FindRoot(dir string) (string, bool) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
					return dir, f[1] == "ladle"
				}
			}
			return "", false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func goEnv(ctx context.Context, opts *Options, name string) (string, error) {
	cmd := exec.CommandContext(ctx, opts.goCmd(), "env", name)
	cmd.Dir = opts.Root
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %v (is Go installed? the playground is built with the go command)", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// wasmMains lists the main packages under wasm/, as import paths.
func wasmMains(ctx context.Context, opts *Options) ([]string, error) {
	if !isDir(filepath.Join(opts.Root, "wasm")) {
		return nil, nil
	}
	cmd := exec.CommandContext(ctx, opts.goCmd(), "list", "-f", "{{if eq .Name \"main\"}}{{.ImportPath}}{{end}}", "./wasm/...")
	cmd.Dir = opts.Root
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list ./wasm/...: %v\n%s", err, stderr.Bytes())
	}
	var mains []string
	for _, line := range strings.Split(string(out), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			mains = append(mains, line)
		}
	}
	sort.Strings(mains)
	return mains, nil
}

// runVugugen regenerates the Go code of the .vugu components, when vugugen is a tool of
// the module and ui/ holds .vugu files.
func runVugugen(ctx context.Context, opts *Options) error {
	dirs := map[string]bool{}
	filepath.WalkDir(filepath.Join(opts.Root, "ui"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".vugu") {
			dirs[filepath.Dir(p)] = true
		}
		return nil
	})
	if len(dirs) == 0 {
		opts.logf("vugugen: no .vugu files under ui/, skipped")
		return nil
	}
	check := exec.CommandContext(ctx, opts.goCmd(), "tool", "-n", "vugugen")
	check.Dir = opts.Root
	if err := check.Run(); err != nil {
		opts.logf("vugugen: not a tool of the module (go get -tool github.com/vugu/vugu/cmd/vugugen@v0.4.0), skipped")
		return nil
	}
	var list []string
	for d := range dirs {
		list = append(list, d)
	}
	sort.Strings(list)
	for _, d := range list {
		opts.logf("go tool vugugen %s", rel(opts.Root, d))
		cmd := exec.CommandContext(ctx, opts.goCmd(), "tool", "vugugen", "-skip-go-mod", "-skip-main", d)
		cmd.Dir = opts.Root
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("vugugen %s: %v\n%s", d, err, b)
		}
		if err := formatGenerated(d); err != nil {
			return err
		}
	}
	return nil
}

// formatGenerated gofmts the Go files vugugen wrote (it does not), so that a build
// leaves the committed *_gen.go files exactly as they are and CI's gofmt check passes.
func formatGenerated(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*_gen.go"))
	if err != nil {
		return err
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		out, err := format.Source(src)
		if err != nil {
			return fmt.Errorf("formatting %s: %v", f, err)
		}
		if !bytes.Equal(src, out) {
			if err := os.WriteFile(f, out, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

func findWasmExec(goroot string) (string, error) {
	for _, p := range []string{filepath.Join(goroot, "lib", "wasm", "wasm_exec.js"), filepath.Join(goroot, "misc", "wasm", "wasm_exec.js")} {
		if isFile(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("wasm_exec.js is not in %s/lib/wasm (is the Go installation complete?)", goroot)
}

// clearDir makes dir exist and empty, keeping a README.md.
func clearDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == "README.md" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(src, p)
		if strings.HasPrefix(d.Name(), ".") && p != src {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, r)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copyFile(p, target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func sameContent(a, b string) (bool, error) {
	x, err := os.ReadFile(a)
	if err != nil {
		return false, err
	}
	y, err := os.ReadFile(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(x, y), nil
}

// gzipTree writes foo.gz beside every compressible file of MinGzip bytes or more,
// when that saves at least a tenth.
func gzipTree(opts *Options) error {
	return filepath.WalkDir(opts.Out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !compressible[strings.ToLower(filepath.Ext(p))] {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil || len(b) < MinGzip {
			return err
		}
		var buf bytes.Buffer
		w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		w.Write(b)
		if err := w.Close(); err != nil {
			return err
		}
		if buf.Len() > len(b)*9/10 {
			return nil
		}
		opts.logf("gzip %s: %d → %d bytes", rel(opts.Out, p), len(b), buf.Len())
		return os.WriteFile(p+".gz", buf.Bytes(), 0o644)
	})
}

// pruneCache removes all but the newest keep builds of cacheDir (never keepDir).
func pruneCache(cacheDir, keepDir string, keep int) {
	entries, err := os.ReadDir(cacheDir)
	if err != nil {
		return
	}
	type build struct {
		path string
		mod  time.Time
	}
	var builds []build
	for _, e := range entries {
		p := filepath.Join(cacheDir, e.Name())
		fi, err := os.Stat(filepath.Join(p, "build.json"))
		if err != nil || p == keepDir {
			continue
		}
		builds = append(builds, build{p, fi.ModTime()})
	}
	sort.Slice(builds, func(i, j int) bool { return builds[i].mod.After(builds[j].mod) })
	for i, b := range builds {
		if i >= keep-1 {
			os.RemoveAll(b.path)
		}
	}
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func rel(base, p string) string {
	if r, err := filepath.Rel(base, p); err == nil {
		return r
	}
	return p
}
