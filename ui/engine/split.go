package engine

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/merge"
	"ladle/core/plan"
	"ladle/core/recipe"
)

// partError is a part request for a merge that cannot be split.
type partError struct{ msg string }

func (e *partError) Error() string { return e.msg }

// SplitTensors divides tensors (a merge's output tensors, in order) into count
// contiguous groups of about equal data bytes. Group i is tensors[b[i]:b[i+1]] of the
// returned bounds b (len count+1); a group may be empty. It depends only on its
// arguments, so every worker of a split merge finds the same groups.
func SplitTensors(tensors []ckpt.Info, count int) []int {
	if count < 1 {
		count = 1
	}
	cum := make([]int64, len(tensors)+1)
	for i, t := range tensors {
		cum[i+1] = cum[i] + max(t.Bytes(), 0)
	}
	total := cum[len(tensors)]
	bounds := make([]int, count+1)
	j := 0
	for i := 1; i < count; i++ {
		target := int64(float64(total) * float64(i) / float64(count))
		// move the cut while that brings the bytes before it closer to the target
		for j < len(tensors) && (cum[j+1] <= target || cum[j+1]-target < target-cum[j]) {
			j++
		}
		bounds[i] = j
	}
	bounds[count] = len(tensors)
	return bounds
}

// Splittable reports whether a plan's merge can be split by tensor: every output tensor
// must depend only on the same tensor of the inputs.
func Splittable(p *plan.Plan) error {
	switch {
	case p.Method.PartialModels || p.Method.Layout != nil || p.Method.DecodeInput != nil:
		return &partError{msg: fmt.Sprintf("part: %s works on signatures of the whole model and cannot be split over several workers; run it as one request", p.Method.Name)}
	case p.Recipe.Ladle.TrimScope == merge.TrimModel:
		return &partError{msg: "part: trim_scope: model trims over the whole model at once and cannot be split over several workers; run it as one request"}
	case p.Method.NeedsEval || p.Method.Select != nil:
		return &partError{msg: fmt.Sprintf("part: %s evaluates whole models and cannot be split over several workers; run it as one request", p.Method.Name)}
	case p.Aligned():
		return &partError{msg: "part: align: true permutes whole models and cannot be split over several workers; run it as one request"}
	}
	return nil
}

// runPart writes one part of a split merge: the header (part 0) and the data of its
// group of tensors. The page concatenates the parts in order into the whole file.
func runPart(ctx context.Context, p *plan.Plan, r *recipe.Recipe, open plan.Opener, out io.Writer, opts plan.Options, part Part) error {
	if part.Count < 1 || part.Index < 0 || part.Index >= part.Count {
		return &requestError{where: "part", msg: fmt.Sprintf("part {index: %d, count: %d}: want 0 <= index < count", part.Index, part.Count)}
	}
	if err := Splittable(p); err != nil {
		return err
	}
	tensors := p.OutputTensors()
	bounds := SplitTensors(tensors, part.Count)
	group := tensors[bounds[part.Index]:bounds[part.Index+1]]
	if part.Index == 0 {
		header, err := safetensors.EncodeHeader(tensors, p.Metadata(opts))
		if err != nil {
			return err
		}
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
		if _, err := out.Write(n[:]); err != nil {
			return err
		}
		if _, err := out.Write(header); err != nil {
			return err
		}
	}
	keep := make(map[string]bool, len(group))
	var want int64
	for _, t := range group {
		keep[t.Name] = true
		want += t.Bytes()
	}
	// The same recipe again, with every input tensor of an output outside the group an
	// empty integer tensor: the planner copies those (zero bytes) instead of reading
	// and merging them, while names, order and so layer positions stay the same (for
	// `slices:` too, whose outputs are renamed layers of the inputs).
	q, err := plan.PrepareOnly(r, open, nil, keep)
	if err != nil {
		return err
	}
	defer q.Close()
	sink := &rawSink{w: out}
	if err := q.Execute(ctx, sink, opts); err != nil {
		return err
	}
	if sink.n != want {
		return fmt.Errorf("part %d of %d: wrote %d bytes of tensor data, want %d (a bug in Ladle)", part.Index, part.Count, sink.n, want)
	}
	return nil
}

// rawSink writes tensor data with no header: one part of a split merge.
type rawSink struct {
	w io.Writer
	n int64
}

func (s *rawSink) BeginTensor(string) error { return nil }

func (s *rawSink) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	s.n += int64(n)
	return n, err
}

func (s *rawSink) WriteTensor(_ string, data []byte) error {
	_, err := s.Write(data)
	return err
}

func (s *rawSink) Close() error { return nil }
