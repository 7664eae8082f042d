// Command build builds and serves the browser playground:
//
//	go run ./build dist  [-o DIR]                 build into DIR (default site/dist)
//	go run ./build serve [-o DIR] [--addr ADDR]   build, then serve it (default 127.0.0.1:8080)
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
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"

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
		fs.Parse(args)
		if err := buildDist(ctx, root, *out); err != nil {
			return err
		}
		return serve(ctx, *out, *addr)
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

func serve(ctx context.Context, dir, addr string) error {
	fsys := os.DirFS(dir)
	if err := site.CheckDist(fsys); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: site.Handler(fsys, site.Options{})}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	fmt.Printf("Ladle playground: http://%s/ (Ctrl-C stops)\n", ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
