package browsertest

import (
	"embed"
	"io/fs"
)

//go:embed page
var pageFiles embed.FS

// TestPage is the test-only page (enginetest.html, enginetest.js) that drives the
// engine worker directly through window.ladleTest; serve it over a dist with
// Overlay(TestPage(), os.DirFS(dist)).
func TestPage() fs.FS {
	sub, _ := fs.Sub(pageFiles, "page")
	return sub
}
