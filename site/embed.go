package site

import (
	"embed"
	"io/fs"
)

// dist is the playground as built into site/dist before the binary was compiled; only
// its README when nothing was built.
//
//go:embed dist
var dist embed.FS

// Embedded returns the built playground compiled into this binary, and false when the
// binary was compiled without one (site/dist held only its README).
func Embedded() (fs.FS, bool) {
	sub, err := fs.Sub(dist, "dist")
	if err != nil || CheckDist(sub) != nil {
		return nil, false
	}
	return sub, true
}
