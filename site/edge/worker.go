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
// serve` runs, answering every request as `ladle serve` answers one without
// Accept-Encoding (the platform compresses). When page holds no index.html, every request gets 503 and NotBuilt,
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
	h := site.Handler(page, site.Options{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The platform negotiates the content coding with the browser (gzip or Brotli,
		// compressed on the fly) and hands the Worker a normalised Accept-Encoding
		// whatever the browser sent, so the Worker answers with the identity bytes and
		// their ETag, and never with a coding the browser may not take.
		r.Header.Del("Accept-Encoding")
		h.ServeHTTP(noLength{w}, r)
	})
}

// noLength drops the Content-Length the handler sets, so that syumai/workers streams
// the body as a pulled ReadableStream rather than a FixedLengthStream fed by a
// goroutine, which workerd took for a hung Worker under a few dozen concurrent
// requests. The entry script reads the body whole and sends it with its length.
type noLength struct{ http.ResponseWriter }

func (w noLength) WriteHeader(code int) {
	w.Header().Del("Content-Length")
	w.ResponseWriter.WriteHeader(code)
}

func (w noLength) Write(b []byte) (int, error) {
	w.Header().Del("Content-Length")
	return w.ResponseWriter.Write(b)
}
