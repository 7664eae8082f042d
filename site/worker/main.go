//go:build js && wasm

// Command worker is Ladle's edge host: a Cloudflare Worker, in Go through
// github.com/syumai/workers, that serves the playground with site.Handler, the same
// http.Handler as `ladle serve` (one handler, two hosts). It embeds only the page's
// code and text (package ladle/site/edge decides which files); the WebAssembly
// binaries and the labs are the platform's static assets, served with headers that
// the same handler wrote into _headers, so no model byte ever reaches the Worker.
//
// Build and run it with `go run ./build worker [--dev --addr 127.0.0.1:8787]`, which
// embeds the page through a go build -overlay onto the page folder.
package main

import (
	"embed"
	"io/fs"

	"github.com/syumai/workers"

	"ladle/site/edge"
)

//go:embed page
var page embed.FS

func main() {
	sub, err := fs.Sub(page, "page")
	if err != nil {
		panic(err) // cannot happen: "page" is a valid name
	}
	workers.Serve(edge.WorkerHandler(sub))
}
