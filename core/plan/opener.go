package plan

import (
	"path/filepath"

	"ladle/core/ckpt"
	"ladle/core/lora"
)

// Opener opens a model named in a recipe. FileOpener resolves paths against the recipe's
// folder; the browser's opener finds dropped files by name.
type Opener func(path string) (ckpt.Source, error)

// FileOpener opens checkpoint files and sharded folders, resolving relative paths
// against dir (the recipe file's folder). BASE+ADAPTER_DIR opens BASE with the PEFT
// adapter in ADAPTER_DIR applied (package lora), both resolved against dir.
func FileOpener(dir string) Opener {
	return lora.Opener(func(path string) (ckpt.Source, error) {
		if !filepath.IsAbs(path) && dir != "" {
			path = filepath.Join(dir, path)
		}
		return ckpt.Open(path)
	}, FileReader(dir))
}

// lookup finds a tensor of one of the plan's inputs through an index built once, so
// that checkpoints of many thousands of tensors cost no quadratic scans. Safe for
// concurrent use once Prepare has returned.
func (p *Plan) lookup(src ckpt.Source, name string) (ckpt.Info, bool) {
	idx, ok := p.index[src]
	if !ok {
		return ckpt.Lookup(src, name)
	}
	info, ok := idx[name]
	return info, ok
}

// indexSources builds the lookup index of every opened input.
func (p *Plan) indexSources() {
	p.index = make(map[ckpt.Source]map[string]ckpt.Info, len(p.opened))
	for _, src := range p.opened {
		idx := make(map[string]ckpt.Info, len(src.Tensors()))
		for _, t := range src.Tensors() {
			idx[t.Name] = t
		}
		p.index[src] = idx
	}
}
