// Package edge prepares the built playground for the edge host: a Cloudflare Worker
// written in Go (package ladle/site/worker) in front of the platform's static assets.
// One handler, two hosts: the Worker serves site.Handler, the same http.Handler as
// `ladle serve`, over the files it embeds; the platform serves the rest with headers
// from a _headers file that this package writes by asking that same handler, so the
// two cannot drift.
//
// Invariants (each has a test):
//
//   - Split puts every file of a dist folder in exactly one place. The Worker embeds
//     the page's code and text (html, js, css, svg, icons) up to MaxWorkerFile, with
//     their pre-compressed variants (which give site.Handler's Vary; the platform
//     negotiates the coding, see WorkerHandler); everything else is a static asset: the
//     WebAssembly binaries, images, and every file of the labs, so that nothing
//     model-related ever reaches the Worker (the browser fetches checkpoints straight
//     from the platform, and a person's own models never leave the tab at all).
//   - Assets carry no .gz/.br variants (the platform compresses on the fly) and none
//     is larger than MaxAsset, the platform's limit for one file.
//   - HeadersFile gives each asset, under Cloudflare's _headers rules (every matching
//     rule applies; a header set by two matching rules is joined with ", "), exactly
//     the headers site.Handler sends for it, less the ones the platform owns:
//     Content-Length and the ETag (the platform's own strong validator of the same
//     bytes) and Date. At most MaxHeaderRules rules.
//
// The package is portable Go with no syscall/js: the Worker links WorkerHandler, and
// the native build (package ladle/site/edge/edgebuild) links the rest.
package edge
