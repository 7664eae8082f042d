package edge

import (
	"io/fs"
	"net/http"

	"ladle/site"
)

// NotBuilt is what a Worker compiled without its page answers (the plain `go build`
// of package ladle/site/worker, which CI runs): how to build a real one.
const NotBuilt = "This Worker was compiled without the playground. Build it with `go run ./build worker` (see the README, \"Host it\").\n"

// WorkerHandler is the Worker's http.Handler: site.Handler over the files Split gave
// the Worker (page, an fs.FS rooted at the dist's top), the very handler `ladle
// serve` runs. When page holds no index.html, every request gets 503 and NotBuilt,
// with the security headers.
func WorkerHandler(page fs.FS) http.Handler {
	if _, err := fs.Stat(page, "index.html"); err != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			site.SecurityHeaders(w.Header(), "")
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(NotBuilt))
		})
	}
	return site.Handler(page, site.Options{})
}
