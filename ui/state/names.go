package state

import (
	"fmt"
	"path"
	"strings"
)

// maxNamedModels is how many model names a result's file name spells out.
const maxNamedModels = 2

// ResultName is the file name of the recipe's merged checkpoint, from its method and
// models: "ties-task-low+task-high.safetensors", "linear-a+b+8-more.safetensors". The
// base is left out (it is in every recipe with one); characters that file systems
// refuse become '_'.
func (a *App) ResultName() string {
	r, err, ok := a.parse(a.RecipeText)
	if !ok || err != nil || r.MergeMethod == "" {
		return "merged.safetensors"
	}
	var stems []string
	for _, m := range r.Models {
		if m.Path == r.BaseModel && a.TakesBase() {
			continue
		}
		stems = append(stems, stem(m.Path))
	}
	if len(stems) > maxNamedModels+1 {
		stems = append(stems[:maxNamedModels], fmt.Sprintf("%d-more", len(stems)-maxNamedModels))
	}
	name := r.MergeMethod
	if len(stems) > 0 {
		name += "-" + strings.Join(stems, "+")
	}
	return safeFileName(name) + ".safetensors"
}

// stem is a model path's last element without its checkpoint extension.
func stem(p string) string {
	b := path.Base(strings.ReplaceAll(p, "\\", "/"))
	lower := strings.ToLower(b)
	for _, ext := range []string{".safetensors", ".pt", ".pth", ".bin", ".ckpt", ".gguf", ".npz", ".npy"} {
		if strings.HasSuffix(lower, ext) {
			return b[:len(b)-len(ext)]
		}
	}
	return b
}

func safeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || strings.ContainsRune(`/\:*?"<>|`, r) {
			return '_'
		}
		return r
	}, s)
}
