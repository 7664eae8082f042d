package bundle

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"ladle/site"
)

func TestFindRoot(t *testing.T) {
	root, ok := FindRoot(".")
	if !ok || root == "" {
		t.Fatalf("FindRoot from the package folder: %q %v", root, ok)
	}
	if _, err := os.Stat(filepath.Join(root, "index.html")); err != nil {
		t.Errorf("%s is not the repository root: %v", root, err)
	}
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/other\n"), 0o644)
	os.MkdirAll(filepath.Join(other, "sub"), 0o755)
	if _, ok := FindRoot(filepath.Join(other, "sub")); ok {
		t.Error("another module is taken for Ladle's source tree")
	}
}

func TestSourceHashFollowsTheSources(t *testing.T) {
	root := t.TempDir()
	write := func(name, body string) {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module ladle\n")
	write("index.html", "<!doctype html>")
	write("public/css/a.css", "body{}")
	write("wasm/engine/main.go", "package main")
	write("core/x/x.go", "package x")
	opts := Options{Root: root}
	ctx := context.Background()
	h1, err := SourceHash(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if h2, _ := SourceHash(ctx, opts); h2 != h1 {
		t.Fatal("the hash is not stable")
	}
	write("core/x/x_test.go", "package x")
	write("wasm/engine/testdata/big.bin", "data")
	if h, _ := SourceHash(ctx, opts); h != h1 {
		t.Error("a test file changed the hash of the build")
	}
	for _, name := range []string{"public/css/a.css", "wasm/engine/main.go", "core/x/x.go", "index.html", "go.mod"} {
		old, _ := os.ReadFile(filepath.Join(root, name))
		write(name, string(old)+"\n// changed")
		if h, _ := SourceHash(ctx, opts); h == h1 {
			t.Errorf("changing %s does not change the hash", name)
		}
		write(name, string(old))
	}
}

func TestBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the wasm binaries")
	}
	root, ok := FindRoot(".")
	if !ok {
		t.Fatal("not in the source tree")
	}
	out := t.TempDir()
	os.WriteFile(filepath.Join(out, "README.md"), []byte("kept"), 0o644)
	os.WriteFile(filepath.Join(out, "stale.js"), []byte("old"), 0o644)
	var log bytes.Buffer
	if err := Build(context.Background(), Options{Root: root, Out: out, Log: &log}); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if err := site.CheckDist(os.DirFS(out)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "stale.js")); err == nil {
		t.Error("a file of the previous build survived")
	}
	if b, _ := os.ReadFile(filepath.Join(out, "README.md")); string(b) != "kept" {
		t.Error("the README of the dist folder was removed")
	}
	wasm, err := os.ReadFile(filepath.Join(out, "engine.wasm"))
	if err != nil || !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		t.Fatalf("engine.wasm: %v", err)
	}
	f, err := os.Open(filepath.Join(out, "engine.wasm.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	unz, _ := io.ReadAll(zr)
	if !bytes.Equal(unz, wasm) {
		t.Error("engine.wasm.gz does not decode to engine.wasm")
	}
	goroot, _ := exec.Command("go", "env", "GOROOT").Output()
	want, _ := os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js"))
	if got, _ := os.ReadFile(filepath.Join(out, "wasm_exec.js")); !bytes.Equal(got, want) {
		t.Error("wasm_exec.js is not the Go installation's")
	}
	for _, name := range []string{"index.html", "engine.js", "app.js", "css/ladle.css", "icons/ladle.svg"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
