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
	"strings"

	"ladle/site"
	"ladle/site/bundle"
)

func init() {
	register(&command{
		name:    "serve",
		args:    "[--addr 127.0.0.1:8080] [--dist DIR] [--allow-host NAME,...]",
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
	distDir := fset.String("dist", "", "serve this built playground folder (made by go run ./build dist -o DIR) instead of finding one")
	allowHosts := fset.String("allow-host", "", "also answer requests for these host names (comma-separated; e.g. a name in /etc/hosts or a reverse proxy's); localhost and the bound address always work")
	positional, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(positional) != 0 {
		return usagef("serve takes no arguments, got %q", positional)
	}
	runCtx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fsys, from, closeDist, err := findPlayground(runCtx, ctx, *distDir)
	if err != nil {
		return err
	}
	defer closeDist()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %v (is another server using it? try --addr 127.0.0.1:0)", *addr, err)
	}
	url, warning, others := bannerURLs(ln.Addr())
	var extra []string
	if h, _, err := net.SplitHostPort(*addr); err == nil && h != "" {
		extra = append(extra, h) // the name as given: the listener reports only its address
	}
	for _, h := range strings.Split(*allowHosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			extra = append(extra, h)
		}
	}
	srv := newServer(newHostGuard(site.Handler(fsys, site.Options{}), ln.Addr().String(), extra))
	fmt.Fprintf(ctx.stdout, "Ladle playground: %s\n", url)
	for _, o := range others {
		fmt.Fprintf(ctx.stdout, "  on the network: %s\n", o)
	}
	if warning != "" {
		fmt.Fprintln(ctx.stderr, warning)
	}
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
	if err := srv.Serve(headerListener{ln}); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// findPlayground finds the built playground: the --dist folder; else, inside the Ladle
// source tree with Go installed, a build of the sources (cached by their hash); else
// the copy compiled into this binary. A folder is read through an os.Root, so that a
// symbolic link inside it cannot lead out of it (to /etc/passwd, say); release closes it.
func findPlayground(runCtx context.Context, ctx *cmdContext, distDir string) (fsys fs.FS, from string, release func(), err error) {
	fsys, from, root, err := findPlaygroundIn(runCtx, ctx, distDir)
	release = func() {}
	if root != nil {
		release = func() { root.Close() }
	}
	return fsys, from, release, err
}

func findPlaygroundIn(runCtx context.Context, ctx *cmdContext, distDir string) (fs.FS, string, *os.Root, error) {
	if distDir != "" {
		root, err := os.OpenRoot(distDir)
		if err != nil {
			return nil, "", nil, fmt.Errorf("--dist: %v", err)
		}
		if err := site.CheckDist(root.FS()); err != nil {
			root.Close()
			return nil, "", nil, fmt.Errorf("%s: %v (build one with `go run ./build dist -o %s`)", distDir, err, distDir)
		}
		return root.FS(), distDir, root, nil
	}
	embedded, hasEmbedded := site.Embedded()
	wd, _ := os.Getwd()
	if root, ok := bundle.FindRoot(wd); ok {
		if _, err := exec.LookPath("go"); err == nil {
			cache, err := bundle.DefaultCacheDir()
			if err != nil {
				return nil, "", nil, err
			}
			fmt.Fprintf(ctx.stderr, "preparing the playground from the sources in %s (built once per change, cached in %s)\n", root, cache)
			dir, err := bundle.Cached(runCtx, bundle.Options{Root: root, Log: ctx.stderr}, cache)
			if err == nil {
				root, err := os.OpenRoot(dir)
				if err != nil {
					return nil, "", nil, err
				}
				return root.FS(), dir, root, nil
			}
			if !hasEmbedded {
				return nil, "", nil, fmt.Errorf("building the playground: %w", err)
			}
			fmt.Fprintf(ctx.stderr, "building the playground failed, serving the copy built into this binary instead: %v\n", err)
		}
	}
	if hasEmbedded {
		return embedded, "the playground built into this binary", nil, nil
	}
	return nil, "", nil, errors.New("this ladle binary has no playground built in and is not run inside the Ladle source tree: " +
		"run `go run ./cmd/ladle serve` in the source tree (Go builds the playground), or build it with `go run ./build dist` " +
		"and then compile ladle, or pass --dist DIR")
}
