package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"ladle/site/edge/edgebuild"
)

// worker builds the Cloudflare Worker (package ladle/site/worker) with its static
// assets and wrangler.jsonc, and optionally runs it in workerd or deploys it.
func worker(ctx context.Context, root string, args []string) error {
	fs := flag.NewFlagSet("worker", flag.ExitOnError)
	out := fs.String("o", filepath.Join(root, "site", "worker", "dist"), "the output folder (wrangler.jsonc, build/, assets/)")
	dist := fs.String("dist", "", "take the page from this built playground (go run ./build dist -o DIR) instead of building it")
	name := fs.String("name", "ladle", "the Worker's name on Cloudflare")
	dev := fs.Bool("dev", false, "then run it locally in workerd through wrangler dev")
	addr := fs.String("addr", "127.0.0.1:8787", "with --dev, the address to listen on")
	deploy := fs.Bool("deploy", false, "then deploy it with wrangler deploy (needs a Cloudflare account)")
	install := fs.Bool("install-wrangler", false, "install wrangler "+edgebuild.WranglerVersion+" (npm) into the cache folder, then stop")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go run ./build worker [-o DIR] [--dist DIR] [--dev [--addr HOST:PORT]] [--deploy] [--install-wrangler]")
		fs.PrintDefaults()
	}
	fs.Parse(args)
	if fs.NArg() > 0 {
		return fmt.Errorf("worker takes no arguments, got %q", fs.Args())
	}
	if *install {
		w, err := edgebuild.InstallWrangler(ctx, os.Stderr)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrangler %s: %s\n", edgebuild.WranglerVersion, w)
		return nil
	}
	if *dev && *deploy {
		return errors.New("choose --dev or --deploy, not both")
	}
	if *dev || *deploy { // fail before the build when wrangler is missing
		if _, err := edgebuild.FindWrangler(); err != nil {
			return err
		}
	}
	res, err := edgebuild.Build(ctx, edgebuild.Options{Root: root, Dist: *dist, Out: *out, Name: *name, Log: os.Stderr, Vugugen: true})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "built the Worker into %s: wasm %d bytes (%d gzipped); %d static assets (%d bytes)\n",
		res.Out, res.WasmBytes, res.WasmGzipBytes, len(res.Layout.Assets), res.AssetBytes)
	switch {
	case *dev:
		d, err := edgebuild.Dev(ctx, edgebuild.DevOptions{Out: res.Out, Addr: *addr, Log: os.Stderr})
		if err != nil {
			return err
		}
		fmt.Printf("Ladle playground on the Worker (workerd): %s/ (ready in %v; Ctrl-C stops)\n", d.URL, d.Ready.Round(time.Millisecond))
		go func() {
			<-ctx.Done()
			d.Stop()
		}()
		d.Wait()
	case *deploy:
		return edgebuild.Deploy(ctx, res.Out, os.Stdout, os.Stderr)
	default:
		fmt.Fprintf(os.Stderr, "run it locally: go run ./build worker --dev (or wrangler dev --config %s)\n", res.Config)
	}
	return nil
}
