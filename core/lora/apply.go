package lora

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"

	"ladle/core/ckpt"
	"ladle/core/dtype"
)

// Applied is a base checkpoint with an adapter merged in, computed as it is read.
type Applied struct {
	base    ckpt.Source
	adapter *Adapter
	tensors []ckpt.Info
	pairs   map[string]*Pair // by target tensor name
	winfo   map[string]ckpt.Info
}

// Apply shows base with the adapter merged in: each pair's W = M.weight becomes
// W + s·(B·A) (see the package doc), as an F32 tensor; every other tensor is the
// base's. It checks every pair against base before returning. Close closes both the
// base and the adapter.
func Apply(base ckpt.Source, a *Adapter) (*Applied, error) {
	s := &Applied{base: base, adapter: a, pairs: map[string]*Pair{}, winfo: map[string]ckpt.Info{}}
	idx := map[string]int{}
	s.tensors = slices.Clone(base.Tensors())
	for i, t := range s.tensors {
		idx[t.Name] = i
	}
	for k := range a.Pairs {
		p := &a.Pairs[k]
		target := p.Target()
		i, ok := idx[target]
		if !ok {
			return nil, &AdapterError{File: a.Weights.Path(), Key: p.A.Name, Msg: fmt.Sprintf(
				"adapts %s, but the base %s has no tensor %q: is this the adapter of another model?", p.Module, base.Path(), target)}
		}
		w := s.tensors[i]
		out, in := p.B.Shape[0], p.A.Shape[1]
		want := []int64{out, in}
		layout := "[out, in]"
		if a.Config.FanInFanOut {
			want, layout = []int64{in, out}, "[in, out] (fan_in_fan_out)"
		}
		if !w.DType.IsFloat() || !slices.Equal(w.Shape, want) {
			return nil, &AdapterError{File: a.Weights.Path(), Key: p.A.Name, Msg: fmt.Sprintf(
				"lora_B·lora_A is %d x %d, so %s of %s should be %s %v, but it is %s %v: is this the adapter of another model?",
				out, in, target, base.Path(), layout, want, w.DType, w.Shape)}
		}
		s.winfo[target] = w
		s.tensors[i].DType = dtype.F32
		s.pairs[target] = p
	}
	return s, nil
}

// Adapter is the applied adapter.
func (s *Applied) Adapter() *Adapter { return s.adapter }

// Path names the base and the adapter as a recipe does: BASE+DIR.
func (s *Applied) Path() string { return s.base.Path() + "+" + s.adapter.Dir }

// Format is the base's format.
func (s *Applied) Format() string { return s.base.Format() }

// Metadata is the base's (its architecture, for evaluation, included).
func (s *Applied) Metadata() map[string]string { return s.base.Metadata() }

// Tensors lists the base's tensors; adapted ones are F32.
func (s *Applied) Tensors() []ckpt.Info { return s.tensors }

// Tensor reads a base tensor, or computes an adapted one on demand.
func (s *Applied) Tensor(name string) (*io.SectionReader, error) {
	p, ok := s.pairs[name]
	if !ok {
		return s.base.Tensor(name)
	}
	w := s.winfo[name]
	wr, err := s.base.Tensor(name)
	if err != nil {
		return nil, err
	}
	r := &adaptedReader{
		src: s, pair: p, w: wr, wdt: w.DType,
		rows: int(w.Shape[0]), cols: int(w.Shape[1]),
		fifo: s.adapter.Config.FanInFanOut,
	}
	return io.NewSectionReader(r, 0, int64(r.rows)*int64(r.cols)*4), nil
}

// Close closes the base and the adapter.
func (s *Applied) Close() error {
	return errors.Join(s.base.Close(), s.adapter.Close())
}

// adaptedReader computes W + s·(B·A) for the byte range asked.
type adaptedReader struct {
	src        *Applied
	pair       *Pair
	w          *io.SectionReader
	wdt        dtype.DType
	rows, cols int
	fifo       bool

	once sync.Once
	err  error
	bt   []float64 // B, [out][r]
	at   []float64 // A transposed, [in][r]
}

// blockElems bounds the scratch memory of one ReadAt.
const blockElems = 1 << 16

func (r *adaptedReader) load() error {
	r.once.Do(func() {
		p := r.pair
		var a []float64
		if a, r.err = readF64(r.src.adapter.Weights, p.A); r.err != nil {
			return
		}
		if r.bt, r.err = readF64(r.src.adapter.Weights, p.B); r.err != nil {
			return
		}
		rank, in := p.Rank, int(p.A.Shape[1])
		r.at = make([]float64, len(a))
		for k := 0; k < rank; k++ {
			for j := 0; j < in; j++ {
				r.at[j*rank+k] = a[k*in+j]
			}
		}
	})
	return r.err
}

func readF64(src ckpt.Source, t ckpt.Info) ([]float64, error) {
	raw, err := ckpt.ReadAll(src, t.Name)
	if err != nil {
		return nil, err
	}
	out := make([]float64, t.NumElements())
	if err := dtype.DecodeF64(out, raw, t.DType); err != nil {
		return nil, &ckpt.FormatError{File: src.Path(), Tensor: t.Name, Msg: err.Error()}
	}
	return out, nil
}

func (r *adaptedReader) ReadAt(p []byte, off int64) (int, error) {
	size := int64(r.rows) * int64(r.cols) * 4
	if off < 0 {
		return 0, errors.New("lora: negative offset")
	}
	if off >= size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	if err := r.load(); err != nil {
		return 0, err
	}
	end := min(off+int64(len(p)), size)
	ws := int64(r.wdt.Size())
	var wraw []byte
	var wf []float64
	var out []byte
	n := 0
	for lo := off / 4; lo*4 < end; lo += blockElems {
		hi := min(lo+blockElems, (end+3)/4)
		cnt := int(hi - lo)
		wraw, wf, out = growB(wraw, cnt*int(ws)), growF(wf, cnt), growB(out, cnt*4)
		if _, err := r.w.ReadAt(wraw, lo*ws); err != nil {
			return n, fmt.Errorf("%s: tensor %q: %w", r.src.base.Path(), r.pair.Target(), err)
		}
		if err := dtype.DecodeF64(wf, wraw, r.wdt); err != nil {
			return n, err
		}
		r.compute(out, wf, lo)
		from := max(off, lo*4) - lo*4
		to := min(end, hi*4) - lo*4
		n += copy(p[n:], out[from:to])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// compute writes the F32 bytes of elements lo, lo+1, ... of W' given W's values,
// a row of W at a time: one factor row is fixed along a row of W (B's row o, or with
// fan_in_fan_out Aᵀ's row in), the other runs along it.
func (r *adaptedReader) compute(out []byte, w []float64, lo int64) {
	rank := r.pair.Rank
	cols := int64(r.cols)
	for e := 0; e < len(w); {
		idx := lo + int64(e)
		i, j0 := int(idx/cols), int(idx%cols)
		n := min(len(w)-e, r.cols-j0) // the rest of row i
		var fixed, run []float64
		if r.fifo {
			fixed, run = r.at[i*rank:i*rank+rank], r.bt // W is stored [in, out]
		} else {
			fixed, run = r.bt[i*rank:i*rank+rank], r.at // W is [out, in]
		}
		rowKernel(out[4*e:4*(e+n)], w[e:e+n], fixed, run[j0*rank:(j0+n)*rank], r.pair.Scale)
		e += n
	}
}

// rowKernel sets out[j] = float32(w[j] + s·Σk fixed[k]·run[j·r + k]) for each j, the
// products rounded to float64 and summed in k order. Four elements go at once, as
// four independent sums, so that the processor overlaps them; each sum's order, and
// so the result, is that of the plain loop.
func rowKernel(out []byte, w, fixed, run []float64, scale float64) {
	rank := len(fixed)
	j := 0
	for ; j+4 <= len(w); j += 4 {
		r0 := run[j*rank : j*rank+rank]
		r1 := run[(j+1)*rank : (j+1)*rank+rank]
		r2 := run[(j+2)*rank : (j+2)*rank+rank]
		r3 := run[(j+3)*rank : (j+3)*rank+rank]
		var s0, s1, s2, s3 float64
		for k, f := range fixed {
			// Each conversion rounds its product: no platform may fuse a multiply-add.
			s0 += float64(f * r0[k])
			s1 += float64(f * r1[k])
			s2 += float64(f * r2[k])
			s3 += float64(f * r3[k])
		}
		put(out[4*j:], w[j]+float64(scale*s0))
		put(out[4*j+4:], w[j+1]+float64(scale*s1))
		put(out[4*j+8:], w[j+2]+float64(scale*s2))
		put(out[4*j+12:], w[j+3]+float64(scale*s3))
	}
	for ; j < len(w); j++ {
		rj := run[j*rank : j*rank+rank]
		var s float64
		for k, f := range fixed {
			s += float64(f * rj[k])
		}
		put(out[4*j:], w[j]+float64(scale*s))
	}
}

func put(b []byte, v float64) { binary.LittleEndian.PutUint32(b, math.Float32bits(float32(v))) }

func growB(b []byte, n int) []byte {
	if cap(b) >= n {
		return b[:n]
	}
	return make([]byte, n)
}

func growF(b []float64, n int) []float64 {
	if cap(b) >= n {
		return b[:n]
	}
	return make([]float64, n)
}
