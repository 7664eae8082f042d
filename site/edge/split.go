package edge

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// MaxWorkerFile is the largest file the Worker embeds; larger ones are static assets.
// The Worker's own wasm stays small (it is instantiated on every request) and the
// page's code is a few tens of kilobytes.
const MaxWorkerFile = 256 << 10

// MaxAsset is Cloudflare's limit on one static asset (25 MiB).
const MaxAsset = 25 << 20

// workerExts are the kinds of file the Worker serves itself: the page's code and
// text, which it sends with ETags and pre-compressed variants exactly as `ladle serve`
// does.
var workerExts = map[string]bool{".html": true, ".htm": true, ".js": true, ".mjs": true, ".css": true,
	".svg": true, ".ico": true, ".webmanifest": true}

// variantSuffixes are the pre-compressed copies site.Handler serves in place of a file.
var variantSuffixes = []string{".gz", ".br"}

// assetFolders hold nothing the Worker may see: the labs' checkpoints, data and
// descriptions go to the browser from the platform.
var assetFolders = []string{"labs/"}

// Layout is where each file of a dist folder goes (slash-separated names, sorted).
type Layout struct {
	// Worker are the files the Worker embeds and serves, pre-compressed variants
	// included.
	Worker []string
	// Assets are the files the platform serves, with headers from HeadersFile.
	Assets []string
	// Dropped are the pre-compressed variants of assets (the platform compresses).
	Dropped []string
}

// Split decides where each regular file of a dist folder goes. Hidden files and
// folders are left out, as site.Handler never serves them. It fails when an asset is
// larger than MaxAsset.
func Split(dist fs.FS) (Layout, error) {
	sizes := map[string]int64{}
	err := fs.WalkDir(dist, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		sizes[p] = fi.Size()
		return nil
	})
	if err != nil {
		return Layout{}, err
	}
	var l Layout
	for name, size := range sizes {
		if base, ok := variantOf(name, sizes); ok {
			if OnWorker(base, sizes[base]) {
				l.Worker = append(l.Worker, name)
			} else {
				l.Dropped = append(l.Dropped, name)
			}
			continue
		}
		if OnWorker(name, size) {
			l.Worker = append(l.Worker, name)
			continue
		}
		if size > MaxAsset {
			return Layout{}, fmt.Errorf("%s is %d bytes, over the 25 MiB Cloudflare allows for one static asset: shard it (ladle merge --shard-size) or host the playground as a static site", name, size)
		}
		l.Assets = append(l.Assets, name)
	}
	sort.Strings(l.Worker)
	sort.Strings(l.Assets)
	sort.Strings(l.Dropped)
	return l, nil
}

// variantOf reports whether name is a pre-compressed copy (foo.wasm.gz) of another
// file of the folder, and which.
func variantOf(name string, sizes map[string]int64) (string, bool) {
	for _, s := range variantSuffixes {
		if base, ok := strings.CutSuffix(name, s); ok {
			if _, exists := sizes[base]; exists {
				return base, true
			}
		}
	}
	return "", false
}

// OnWorker reports whether the Worker serves a file of the dist (by its slash-separated
// name and size) itself: the page's code and text up to MaxWorkerFile, outside the
// asset folders.
func OnWorker(name string, size int64) bool {
	for _, dir := range assetFolders {
		if strings.HasPrefix(name, dir) {
			return false
		}
	}
	return workerExts[strings.ToLower(path.Ext(name))] && size <= MaxWorkerFile
}
