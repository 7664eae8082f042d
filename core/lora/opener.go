package lora

import (
	"errors"
	"fmt"
	"io/fs"

	"ladle/core/ckpt"
	"ladle/core/lora/ref"
)

// Split splits a model reference BASE+DIR (mergekit's syntax) at its last '+'. ok is
// false when ref holds no '+' or either side is empty.
func Split(r string) (base, dir string, ok bool) { return ref.Split(r) }

// Opener extends open so that BASE+DIR opens BASE with the adapter folder DIR
// applied (Apply). read reads DIR's adapter_config.json; open opens checkpoints,
// DIR's adapter weights included. A name with a '+' whose right side is no adapter
// folder (it has no adapter_config.json) but which opens as it is, is a file whose
// name holds a '+'.
func Opener(open func(path string) (ckpt.Source, error), read func(path string) ([]byte, error)) func(path string) (ckpt.Source, error) {
	return func(ref string) (ckpt.Source, error) {
		base, dir, ok := Split(ref)
		if !ok {
			return open(ref)
		}
		a, err := Open(dir, open, read)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				if src, err2 := open(ref); err2 == nil {
					return src, nil
				}
			}
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		b, err := open(base)
		if err != nil {
			a.Close()
			return nil, err
		}
		src, err := Apply(b, a)
		if err != nil {
			b.Close()
			a.Close()
			return nil, err
		}
		return src, nil
	}
}
