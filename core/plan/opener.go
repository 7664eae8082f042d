package plan

import (
	"path/filepath"

	"ladle/core/ckpt"
)

// Opener opens a model named in a recipe. FileOpener resolves paths against the recipe's
// folder; the browser's opener finds dropped files by name.
type Opener func(path string) (ckpt.Source, error)

// FileOpener opens checkpoint files and sharded folders, resolving relative paths
// against dir (the recipe file's folder).
func FileOpener(dir string) Opener {
	return func(path string) (ckpt.Source, error) {
		if !filepath.IsAbs(path) && dir != "" {
			path = filepath.Join(dir, path)
		}
		return ckpt.Open(path)
	}
}
