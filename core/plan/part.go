package plan

import (
	"io"

	"ladle/core/ckpt"
	"ladle/core/dtype"
	"ladle/core/recipe"
)

// PrepareOnly is PrepareWith for one part of a merge split over several workers (the
// page's engine workers): every input tensor that goes into an output tensor outside
// keep is shown as an empty integer tensor, so Execute copies zero bytes for it
// instead of reading and merging it, while names, order, and so layer positions,
// parameter gradients and per-tensor seeds stay as in the whole merge. Execute then
// writes the data of the kept output tensors only, in order; the caller writes the
// whole plan's header. With `slices:` an output tensor is a renamed layer of its
// sources, so the restriction applies to each slice's renamed view of them (one input
// tensor may feed several output tensors, in different parts).
//
// Only merges whose output tensors each depend on the same tensor of the inputs alone
// can be split: no whole-model step (selection, alignment, model-wide trim) and no
// Layout, DecodeInput or partial models. The caller checks that first.
func PrepareOnly(r *recipe.Recipe, open Opener, read ReadFile, keep map[string]bool) (*Plan, error) {
	return prepare(r, open, read, keep)
}

// restrict shows src's tensors outside keep as empty U8 tensors (keep nil: src).
func restrict(src ckpt.Source, keep map[string]bool) ckpt.Source {
	if keep == nil {
		return src
	}
	s := &restricted{Source: src, keep: keep}
	for _, t := range src.Tensors() {
		if !keep[t.Name] {
			t = ckpt.Info{Name: t.Name, DType: dtype.U8, Shape: []int64{0}}
		}
		s.tensors = append(s.tensors, t)
	}
	return s
}

// restricted is a source with the tensors outside keep shown empty.
type restricted struct {
	ckpt.Source
	keep    map[string]bool
	tensors []ckpt.Info
}

func (s *restricted) Tensors() []ckpt.Info { return s.tensors }

func (s *restricted) Tensor(name string) (*io.SectionReader, error) {
	if s.keep[name] {
		return s.Source.Tensor(name)
	}
	if _, ok := ckpt.Lookup(s.Source, name); !ok {
		return nil, &ckpt.NotFoundError{File: s.Path(), Tensor: name}
	}
	return io.NewSectionReader(emptyReaderAt{}, 0, 0), nil
}

type emptyReaderAt struct{}

func (emptyReaderAt) ReadAt([]byte, int64) (int, error) { return 0, io.EOF }
