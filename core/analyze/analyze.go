package analyze

import (
	"context"
	"fmt"
	"math"
	"slices"

	"ladle/core/ckpt"
	"ladle/core/dtype"
)

// DefaultDensity is the TIES density when none is given: keep every entry.
const DefaultDensity = 1.0

// Result is what Analyze measures; its JSON is `ladle analyze --json`'s.
type Result struct {
	Models  []string    `json:"models"`
	Cosine  [][]float64 `json:"cosine"`
	Tensors []Tensor    `json:"tensors"`
}

// Tensor is the measures of one shared floating tensor.
type Tensor struct {
	Name         string    `json:"name"`
	Norms        []float64 `json:"norms"`
	SignConflict float64   `json:"sign_conflict"`
	TiesAgree    []float64 `json:"ties_agree"`
}

// Options tune Analyze.
type Options struct {
	// Density is the TIES density for TiesAgree, from 0 to 1.
	Density float64
	// Progress, when set, is called after each tensor with how many are done.
	Progress func(done, total int, tensor string)
}

// Input is one checkpoint to analyze and the name the result gives it.
type Input struct {
	Name   string
	Source ckpt.Source
}

// Analyze measures the task vectors of models relative to base. It stops with
// ctx.Err() when ctx is cancelled.
func Analyze(ctx context.Context, base Input, models []Input, opt Options) (*Result, error) {
	if len(models) == 0 {
		return nil, fmt.Errorf("analyze: give at least one model besides the base %s", base.Name)
	}
	if math.IsNaN(opt.Density) || opt.Density < 0 || opt.Density > 1 {
		return nil, fmt.Errorf("analyze: density %v is not a fraction from 0 to 1", opt.Density)
	}
	shared, err := Shared(base, models)
	if err != nil {
		return nil, err
	}
	m := len(models)
	res := &Result{Models: make([]string, m), Cosine: make([][]float64, m), Tensors: make([]Tensor, 0, len(shared))}
	for i, in := range models {
		res.Models[i] = in.Name
		res.Cosine[i] = make([]float64, m)
	}
	dots := make([][]float64, m) // dots[i][j], j <= i: Σ δi·δj over the tensors so far
	for i := range dots {
		dots[i] = make([]float64, i+1)
	}
	var b []float64
	ds := make([][]float64, m)
	var s scratch
	for ti, info := range shared {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := int(info.NumElements())
		if b, err = read(base, info, b[:0]); err != nil {
			return nil, err
		}
		for i, in := range models {
			if ds[i], err = read(in, info, ds[i][:0]); err != nil {
				return nil, err
			}
			d := ds[i]
			for e := range n {
				d[e] -= b[e]
				if math.IsNaN(d[e]) || math.IsInf(d[e], 0) {
					return nil, fmt.Errorf("%s: tensor %s: element %d of the task vector is not a finite number (%v − %v): the model or the base holds NaN or Inf there",
						in.Name, info.Name, e, d[e]+b[e], b[e])
				}
			}
		}
		t := Tensor{Name: info.Name, Norms: make([]float64, m), TiesAgree: make([]float64, m)}
		for i := range m {
			for j := 0; j <= i; j++ {
				v := dot(ds[i], ds[j])
				dots[i][j] += v
				if i == j {
					t.Norms[i] = math.Sqrt(v)
				}
			}
		}
		t.SignConflict = signConflict(ds, n)
		tiesAgree(ds, n, opt.Density, t.TiesAgree, &s)
		res.Tensors = append(res.Tensors, t)
		if opt.Progress != nil {
			opt.Progress(ti+1, len(shared), info.Name)
		}
	}
	for i := range m {
		for j := range m {
			lo, hi := min(i, j), max(i, j)
			ni, nj := math.Sqrt(dots[i][i]), math.Sqrt(dots[j][j])
			if ni == 0 || nj == 0 {
				continue
			}
			if i == j {
				res.Cosine[i][j] = 1 // exactly: the quotient's rounding may miss it by an ulp
				continue
			}
			// ‖δi‖‖δj‖ as √(‖δi‖²‖δj‖²), one rounding, so that identical task vectors
			// give exactly 1 (√(fl(d²)) = d); clamped, since a cosine past ±1 by rounding
			// would turn into NaN in an acos downstream.
			den := math.Sqrt(dots[i][i] * dots[j][j])
			if math.IsInf(den, 0) || den == 0 {
				den = float64(ni * nj)
			}
			res.Cosine[i][j] = max(-1, min(1, dots[hi][lo]/den))
		}
	}
	return res, nil
}

// Shared lists the floating tensors that base and every model hold, in the base's
// file order. A tensor whose shape differs between them is an error.
func Shared(base Input, models []Input) ([]ckpt.Info, error) {
	var out []ckpt.Info
	for _, t := range base.Source.Tensors() {
		if !t.DType.IsFloat() {
			continue
		}
		ok := true
		for _, in := range models {
			u, has := ckpt.Lookup(in.Source, t.Name)
			if !has || !u.DType.IsFloat() {
				ok = false
				break
			}
			if !slices.Equal(u.Shape, t.Shape) {
				return nil, fmt.Errorf("%s: tensor %s has shape %v, but %v in the base %s: task vectors need models fine-tuned from that base",
					in.Name, t.Name, u.Shape, t.Shape, base.Name)
			}
		}
		if ok {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("analyze: the base %s and the models share no floating-point tensor of the same name", base.Name)
	}
	return out, nil
}

// read decodes one tensor of in as float64 into buf's storage.
func read(in Input, want ckpt.Info, buf []float64) ([]float64, error) {
	info, _ := ckpt.Lookup(in.Source, want.Name)
	raw, err := ckpt.ReadAll(in.Source, want.Name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in.Name, err)
	}
	n := int(want.NumElements())
	buf = slices.Grow(buf, n)[:n]
	if err := dtype.DecodeF64(buf, raw, info.DType); err != nil {
		return nil, fmt.Errorf("%s: tensor %s: %v", in.Name, want.Name, err)
	}
	return buf, nil
}

// dot is Σ a·b in index order, each product rounded before it is added.
func dot(a, b []float64) float64 {
	b = b[:len(a)]
	var s float64
	for e, x := range a {
		s += float64(x * b[e])
	}
	return s
}

// signConflict is the fraction of elements with both a positive and a negative δ.
func signConflict(ds [][]float64, n int) float64 {
	if n == 0 {
		return 0
	}
	conflicts := 0
	for e := range n {
		pos, neg := false, false
		for _, d := range ds {
			pos = pos || d[e] > 0
			neg = neg || d[e] < 0
		}
		if pos && neg {
			conflicts++
		}
	}
	return float64(conflicts) / float64(n)
}

// scratch holds tiesAgree's buffers across tensors.
type scratch struct {
	kept  [][]bool
	order []int
	sum   []float64
}

// tiesAgree fills agree[i] for each task vector (see the package doc).
func tiesAgree(ds [][]float64, n int, density float64, agree []float64, s *scratch) {
	k := keepCount(density, n)
	if len(s.kept) < len(ds) {
		s.kept = make([][]bool, len(ds))
	}
	s.sum = slices.Grow(s.sum[:0], n)[:n]
	clear(s.sum)
	for i, d := range ds {
		kept := slices.Grow(s.kept[i][:0], n)[:n]
		s.kept[i] = kept
		trim(d, k, kept, s)
		for e, keep := range kept {
			if keep {
				s.sum[e] += d[e]
			}
		}
	}
	for i, d := range ds {
		same, all := 0, 0
		for e, keep := range s.kept[i][:n] {
			if !keep || d[e] == 0 {
				continue
			}
			all++
			if (d[e] > 0) == (s.sum[e] >= 0) {
				same++
			}
		}
		agree[i] = 0
		if all > 0 {
			agree[i] = float64(same) / float64(all)
		}
	}
}

// keepCount is ⌊density·n⌋ in float64, as the ties merge counts.
func keepCount(density float64, n int) int {
	return int(max(0, min(int64(math.Floor(density*float64(n))), int64(n))))
}

// trim marks in kept the k entries of d of largest magnitude, lower index first
// among equal magnitudes.
func trim(d []float64, k int, kept []bool, s *scratch) {
	n := len(kept)
	if k >= n {
		for e := range kept {
			kept[e] = true
		}
		return
	}
	clear(kept)
	if k == 0 {
		return
	}
	s.order = slices.Grow(s.order[:0], n)[:n]
	for e := range s.order {
		s.order[e] = e
	}
	slices.SortFunc(s.order, func(a, b int) int {
		ma, mb := math.Abs(d[a]), math.Abs(d[b])
		switch {
		case ma > mb:
			return -1
		case ma < mb:
			return 1
		}
		return a - b
	})
	for _, e := range s.order[:k] {
		kept[e] = true
	}
}
