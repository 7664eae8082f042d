package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"time"

	"ladle/site"
	"ladle/site/bundle"
)

func init() {
	register(&command{
		name:    "serve",
		args:    "[--addr 127.0.0.1:8080] [--dist DIR]",
		summary: "serve the browser playground (merges run in the page; nothing is uploaded)",
		run:     runServe,
	})
}

// Test hooks: serveStarted is called with the URL once the server listens, and closing
// serveStop stops it (Ctrl-C does otherwise).
var (
	serveStarted func(url string)
	serveStop    <-chan struct{}
)

func runServe(ctx *cmdContext, args []string) error {
	fset := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fset.String("addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	distDir := fset.String("dist", "", "serve this built playground folder (from `go run ./build dist -o DIR`) instead of finding one")
	positional, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(positional) != 0 {
		return usagef("serve takes no arguments, got %q", positional)
	}
	runCtx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fsys, from, err := findPlayground(runCtx, ctx, *distDir)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %v (is another server using it? try --addr 127.0.0.1:0)", *addr, err)
	}
	url := "http://" + ln.Addr().String() + "/"
	srv := &http.Server{Handler: site.Handler(fsys, site.Options{}), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(ctx.stdout, "Ladle playground: %s\n", url)
	fmt.Fprintf(ctx.stderr, "serving %s; merges run inside the page, nothing is uploaded. Ctrl-C stops.\n", from)
	if serveStarted != nil {
		serveStarted(url)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-runCtx.Done():
		case <-serveStop:
		case <-done:
			return
		}
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// findPlayground finds the built playground: the --dist folder; else, inside the Ladle
// source tree with Go installed, a build of the sources (cached by their hash); else
// the copy compiled into this binary.
func findPlayground(runCtx context.Context, ctx *cmdContext, distDir string) (fs.FS, string, error) {
	if distDir != "" {
		fsys := os.DirFS(distDir)
		if err := site.CheckDist(fsys); err != nil {
			return nil, "", fmt.Errorf("%s: %v (build one with `go run ./build dist -o %s`)", distDir, err, distDir)
		}
		return fsys, distDir, nil
	}
	embedded, hasEmbedded := site.Embedded()
	wd, _ := os.Getwd()
	if root, ok := bundle.FindRoot(wd); ok {
		if _, err := exec.LookPath("go"); err == nil {
			cache, err := bundle.DefaultCacheDir()
			if err != nil {
				return nil, "", err
			}
			fmt.Fprintf(ctx.stderr, "preparing the playground from the sources in %s (built once per change, cached in %s)\n", root, cache)
			dir, err := bundle.Cached(runCtx, bundle.Options{Root: root, Log: ctx.stderr}, cache)
			if err == nil {
				return os.DirFS(dir), dir, nil
			}
			if !hasEmbedded {
				return nil, "", fmt.Errorf("building the playground: %w", err)
			}
			fmt.Fprintf(ctx.stderr, "building the playground failed, serving the copy built into this binary instead: %v\n", err)
		}
	}
	if hasEmbedded {
		return embedded, "the playground built into this binary", nil
	}
	return nil, "", errors.New("this ladle binary has no playground built in and is not run inside the Ladle source tree: " +
		"run `go run ./cmd/ladle serve` in the source tree (Go builds the playground), or build it with `go run ./build dist` " +
		"and then compile ladle, or pass --dist DIR")
}
