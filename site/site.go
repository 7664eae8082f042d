// Package site serves the built playground (a dist folder: index.html, wasm_exec.js,
// app.wasm, engine.wasm, engine.js, css, icons, labs) with the headers a static
// WebAssembly app needs. It is portable Go with no syscall/js: `ladle serve`, `go run
// ./build serve` and the browser tests use it, and an edge worker can too.
//
// Rules (each has a test):
//
//   - Content-Type from the file extension, from a fixed table (application/wasm for
//     .wasm, text/javascript, text/css, image/svg+xml, application/json,
//     application/octet-stream for checkpoints, ...), never sniffed, with
//     X-Content-Type-Options: nosniff.
//   - Pre-compressed assets: for foo.wasm, foo.wasm.br or foo.wasm.gz is served instead
//     when it exists and the request's Accept-Encoding allows it (br first), with
//     Content-Encoding and Vary: Accept-Encoding.
//   - A strong ETag from the SHA-256 of the bytes served, and If-None-Match → 304.
//     Cache-Control: no-cache (always revalidate) for index.html and every name without
//     a content hash; "public, max-age=31536000, immutable" for names that carry one
//     (app.3f9a0c1d.wasm).
//   - A Content-Security-Policy that allows nothing but the page's own origin (plus
//     'wasm-unsafe-eval' to compile WebAssembly, and blob:/data: for workers and
//     images), Referrer-Policy: no-referrer, and cross-origin isolation (COOP
//     same-origin, COEP require-corp, CORP same-origin), which also enables
//     performance.measureUserAgentSpecificMemory. These go on every response, errors
//     included.
//   - Only GET and HEAD; paths are cleaned, hidden files and folders are not served.
package site

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultCSP forbids requests to any other origin (invariant 4: nothing is uploaded).
const DefaultCSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; " +
	"worker-src 'self' blob:; img-src 'self' data: blob:; style-src 'self'; font-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// ImmutableMaxAge is the Cache-Control of names that carry a content hash.
const ImmutableMaxAge = "public, max-age=31536000, immutable"

// Options tune a Handler. The zero value is the playground's policy.
type Options struct {
	// CSP replaces DefaultCSP when set.
	CSP string
	// Hashed reports whether a file name carries a content hash, so that it may be
	// cached for a year; HasContentHash when nil.
	Hashed func(name string) bool
}

// contentTypes maps extensions to MIME types. A fixed table: the system's mime.types
// differs between machines.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".htm":         "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".wasm":        "application/wasm",
	".svg":         "image/svg+xml",
	".json":        "application/json",
	".map":         "application/json",
	".webmanifest": "application/manifest+json",
	".png":         "image/png",
	".jpg":         "image/jpeg",
	".jpeg":        "image/jpeg",
	".gif":         "image/gif",
	".webp":        "image/webp",
	".ico":         "image/x-icon",
	".txt":         "text/plain; charset=utf-8",
	".md":          "text/markdown; charset=utf-8",
	".csv":         "text/csv; charset=utf-8",
	".yaml":        "application/yaml",
	".yml":         "application/yaml",
	".woff2":       "font/woff2",
	".safetensors": "application/octet-stream",
	".pt":          "application/octet-stream",
	".pth":         "application/octet-stream",
	".bin":         "application/octet-stream",
	".npz":         "application/octet-stream",
	".npy":         "application/octet-stream",
	".gguf":        "application/octet-stream",
	".gz":          "application/gzip",
	".br":          "application/octet-stream",
}

// ContentType is the MIME type the handler sends for a file name.
func ContentType(name string) string {
	if t, ok := contentTypes[strings.ToLower(path.Ext(name))]; ok {
		return t
	}
	return "application/octet-stream"
}

// hashedName matches a content hash as its own part of a name: app.3f9a0c1d.wasm,
// engine-3f9a0c1d4b5e.js.
var hashedName = regexp.MustCompile(`[.-][0-9a-f]{8,64}\.[A-Za-z0-9]+$`)

// HasContentHash reports whether a file name carries a content hash (8 to 64 lower-case
// hex digits between a dot or dash and the extension).
func HasContentHash(name string) bool { return hashedName.MatchString(path.Base(name)) }

type encoding struct {
	name, suffix string
}

// encodings in the order of preference.
var encodings = []encoding{{"br", ".br"}, {"gzip", ".gz"}}

// Handler serves the files of fsys (a built dist folder).
func Handler(fsys fs.FS, opts Options) http.Handler {
	if opts.CSP == "" {
		opts.CSP = DefaultCSP
	}
	if opts.Hashed == nil {
		opts.Hashed = HasContentHash
	}
	return &handler{fsys: fsys, opts: opts}
}

type handler struct {
	fsys  fs.FS
	opts  Options
	etags sync.Map // etagKey → string
}

type etagKey struct {
	name    string
	size    int64
	modTime time.Time
}

// SecurityHeaders sets the headers every response carries.
func SecurityHeaders(h http.Header, csp string) {
	if csp == "" {
		csp = DefaultCSP
	}
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Embedder-Policy", "require-corp")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	SecurityHeaders(hdr, h.opts.CSP)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := h.resolve(r.URL.Path)
	if !ok {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	// Pick the representation: a pre-compressed variant when the client takes it.
	served, enc := name, ""
	hasVariant := false
	for _, e := range encodings {
		if h.isFile(name + e.suffix) {
			hasVariant = true
			if enc == "" && acceptsEncoding(headerList(r.Header, "Accept-Encoding"), e.name) {
				served, enc = name+e.suffix, e.name
			}
		}
	}
	f, err := h.fsys.Open(served)
	if err != nil {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		http.Error(w, "500 internal error", http.StatusInternalServerError)
		return
	}
	etag, err := h.etag(served, fi, f)
	if err != nil {
		http.Error(w, "500 internal error", http.StatusInternalServerError)
		return
	}
	hdr.Set("Content-Type", ContentType(name))
	hdr.Set("ETag", etag)
	if hasVariant {
		hdr.Add("Vary", "Accept-Encoding")
	}
	if enc != "" {
		hdr.Set("Content-Encoding", enc)
	}
	if h.opts.Hashed(name) {
		hdr.Set("Cache-Control", ImmutableMaxAge)
	} else {
		hdr.Set("Cache-Control", "no-cache")
	}
	if noneMatch(headerList(r.Header, "If-None-Match"), etag) {
		for _, k := range []string{"Content-Type", "Content-Length", "Content-Encoding"} {
			hdr.Del(k)
		}
		w.WriteHeader(http.StatusNotModified)
		return
	}
	rs, ok := f.(io.ReadSeeker)
	if !ok { // an fs.FS whose files cannot seek: serve the whole body
		b, err := io.ReadAll(f)
		if err != nil {
			http.Error(w, "500 internal error", http.StatusInternalServerError)
			return
		}
		rs = strings.NewReader(string(b))
	}
	// ServeContent adds Content-Length, ranges and HEAD; the modification time is left
	// out so that validation is by ETag only.
	http.ServeContent(w, r, "", time.Time{}, rs)
}

// resolve maps a URL path to a file name in fsys: "/" and folders to their index.html.
func (h *handler) resolve(urlPath string) (string, bool) {
	p := strings.TrimPrefix(path.Clean("/"+urlPath), "/")
	if p == "" {
		p = "index.html"
	}
	for _, part := range strings.Split(p, "/") {
		if strings.HasPrefix(part, ".") {
			return "", false
		}
	}
	if !fs.ValidPath(p) {
		return "", false
	}
	fi, err := fs.Stat(h.fsys, p)
	if err != nil {
		return "", false
	}
	if fi.IsDir() {
		p = path.Join(p, "index.html")
		if !h.isFile(p) {
			return "", false
		}
	}
	return p, true
}

func (h *handler) isFile(name string) bool {
	fi, err := fs.Stat(h.fsys, name)
	return err == nil && fi.Mode().IsRegular()
}

// etag is the strong ETag of a file: a hash of its bytes, cached by name, size and
// modification time.
func (h *handler) etag(name string, fi fs.FileInfo, f fs.File) (string, error) {
	key := etagKey{name, fi.Size(), fi.ModTime()}
	if v, ok := h.etags.Load(key); ok {
		return v.(string), nil
	}
	sum := sha256.New()
	g, err := h.fsys.Open(name) // a second handle, so that f stays at its start
	if err != nil {
		return "", err
	}
	defer g.Close()
	if _, err := io.Copy(sum, g); err != nil {
		return "", err
	}
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum.Sum(nil)[:18]) + `"`
	h.etags.Store(key, etag)
	return etag, nil
}

// headerList is a list-valued header whole: every line of it joined with commas, as
// RFC 9110 §5.3 allows a list to be sent (the Worker's request conversion also splits
// "br, gzip" into two values).
func headerList(h http.Header, name string) string { return strings.Join(h.Values(name), ",") }

// acceptsEncoding reports whether an Accept-Encoding header allows a coding (q > 0,
// directly or through *).
func acceptsEncoding(header, coding string) bool {
	star := false
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		switch name {
		case coding:
			return q > 0
		case "*":
			star = q > 0
		}
	}
	return star
}

// noneMatch reports whether an If-None-Match header matches etag (weak comparison,
// as RFC 9110 asks for If-None-Match).
func noneMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, part := range strings.Split(header, ",") {
		part = strings.TrimSpace(part)
		if part == "*" || strings.TrimPrefix(part, "W/") == etag {
			return true
		}
	}
	return false
}

// ErrNoDist is returned when a folder has no built playground in it.
var ErrNoDist = errors.New("no built playground (index.html) in the folder")

// CheckDist reports whether fsys holds a built playground.
func CheckDist(fsys fs.FS) error {
	for _, name := range []string{"index.html", "wasm_exec.js", "engine.wasm", "engine.js"} {
		if _, err := fs.Stat(fsys, name); err != nil {
			if name == "index.html" {
				return ErrNoDist
			}
			return errors.New("the built playground lacks " + name + "; rebuild it with `go run ./build dist`")
		}
	}
	return nil
}
