// Command build builds and serves the browser playground:
//
//	go run ./build dist  [-o DIR]                 build into DIR (default site/dist)
//	go run ./build serve [-o DIR] [--addr ADDR] [--allow-host NAMES]
//	                                              build, then serve it with `ladle serve` (default 127.0.0.1:8080)
//	go run ./build bench [--size 1.2GB] [--parts N] [--out FILE]
//	                                              merge throughput in the browser vs native, page read throughput, tab memory
//	go run ./build startup [--dist DIR] [--runs N]  start-up on emulated 1.6 and 10 Mbit/s links: sizes, first paint, engine ready
//	go run ./build worker [-o DIR] [--dist DIR] [--dev [--addr ADDR]] [--deploy] [--install-wrangler]
//	                                              the Cloudflare Worker (site/worker) with its assets and wrangler.jsonc;
//	                                              --dev runs it in workerd (wrangler dev), --deploy deploys it
//
// dist runs vugugen on ui/ when it holds .vugu files (and vugugen is a tool of the
// module), compiles every main package under wasm/ with GOOS=js GOARCH=wasm
// (-trimpath, -ldflags=-s -w) into DIR/NAME.wasm, copies wasm_exec.js of this Go (and
// updates the repository's top-level copy when it differs), index.html and public/,
// and writes .gz copies of large compressible files. A `ladle` binary compiled after
// `go run ./build dist` embeds site/dist, so `ladle serve` works from any folder.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"time"

	"ladle/site"
	"ladle/site/bundle"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
}

func usage() error {
	return errors.New("usage: go run ./build [dist|serve|bench|worker|startup] [flags]; go run ./build CMD -h for the flags")
}

func run(args []string) error {
	cmd := "dist"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	root, ok := bundle.FindRoot(".")
	if !ok {
		return errors.New("run it inside the Ladle source tree (the folder of go.mod, module ladle)")
	}
	switch cmd {
	case "dist":
		fs := flag.NewFlagSet("dist", flag.ExitOnError)
		out := fs.String("o", filepath.Join(root, "site", "dist"), "the dist folder to write")
		fs.Parse(args)
		return buildDist(ctx, root, *out)
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ExitOnError)
		out := fs.String("o", filepath.Join(root, "site", "dist"), "the dist folder to write and serve")
		addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
		allow := fs.String("allow-host", "", "also answer requests for these host names (ladle serve's --allow-host)")
		fs.Parse(args)
		if err := buildDist(ctx, root, *out); err != nil {
			return err
		}
		var extra []string
		if *allow != "" {
			extra = []string{"--allow-host", *allow}
		}
		return serve(ctx, root, *out, *addr, extra)
	case "bench":
		return bench(ctx, root, args)
	case "worker":
		return worker(ctx, root, args)
	case "startup":
		return startup(ctx, root, args)
	case "help", "-h", "--help":
		fmt.Println("go run ./build dist|serve|bench|worker|startup [flags]")
		return nil
	}
	return usage()
}

func buildDist(ctx context.Context, root, out string) error {
	err := bundle.Build(ctx, bundle.Options{Root: root, Out: out, Log: os.Stderr, SyncWasmExec: true, Vugugen: true})
	if err == nil {
		fmt.Fprintf(os.Stderr, "built the playground into %s\n", out)
	}
	return err
}

// serve serves dir with the `ladle serve` of this tree, so that the development
// server is the product's, with its protections (the Host check against DNS
// rebinding, timeouts, security headers on every answer) rather than a second,
// weaker server. The command is compiled into a temporary folder and run there;
// Ctrl-C reaches it as an interrupt, and it removes nothing of dir.
func serve(ctx context.Context, root, dir, addr string, extra []string) error {
	if err := site.CheckDist(os.DirFS(dir)); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp("", "ladle-serve-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "ladle")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/ladle")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building ladle to serve the playground: %w", err)
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"serve", "--dist", dir, "--addr", addr}, extra...)...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}
