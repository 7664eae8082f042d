package nn

import (
	"fmt"

	"ladle/core/compute"
)

// linear is y = x·Wᵀ + b with W [out, in] (PyTorch's nn.Linear).
type linear struct {
	layerBase
	w, b    *Param // b is nil without bias
	inF, oF int
}

func newLinear(b *builder, in []int) (layer, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("needs a flat input, got shape %s: put a flatten layer before it", shapeString(in))
	}
	w, err := b.param("weight", []int{-1, in[0]}, true)
	if err != nil {
		return nil, fmt.Errorf("%w (the layer's input has %d features)", err, in[0])
	}
	out := w.Shape[0]
	l := &linear{layerBase: layerBase{out: []int{out}}, w: w, inF: in[0], oF: out}
	if b.layer.hasBias() {
		if l.b, err = b.param("bias", []int{out}, true); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (l *linear) forward(dst, src []float32, n int, s *scratch) { l.forwardAct(dst, src, n, s, false) }

func (l *linear) forwardReLU(dst, src []float32, n int, s *scratch) {
	l.forwardAct(dst, src, n, s, true)
}

func (l *linear) forwardAct(dst, src []float32, n int, s *scratch, relu bool) {
	in, out := l.inF, l.oF
	var bias []float32
	if l.b != nil {
		bias = l.b.Data
	}
	if s.fwd != nil && s.fwd.Linear(dst[:n*out], src[:n*in], l.w.Data, bias, n, in, out, relu) {
		return
	}
	// The kernel's form: Y[n, out] = X[n, in] · Wᵀ[in, out], Wᵀ prepared once per
	// pass. The kernel takes rows four at a time; the last one to three samples go
	// through it too, padded with zero rows, so that every sample is computed the same
	// way wherever it sits in the batch.
	wt := s.prep.wt[l.index]
	ld := padCols(out)
	n4 := (n + 3) &^ 3
	y := grow(&s.out, n4*ld)
	full := n &^ 3
	mm(s)(full, out, in, src, in, wt, ld, nil, y, ld, nil, false)
	if full < n {
		x4 := grow(&s.tmp, 4*in)
		copy(x4, src[full*in:n*in])
		clear(x4[(n-full)*in:])
		mm(s)(4, out, in, x4, in, wt, ld, nil, y[full*ld:], ld, nil, false)
	}
	for i := range n {
		rowBiasAct(dst[i*out:(i+1)*out], y[i*ld:], bias, relu)
	}
}

// bias is the layer's bias, nil without one.
func (l *linear) bias() []float32 {
	if l.b == nil {
		return nil
	}
	return l.b.Data
}

// forwardHead is the layer with what inferenceSteps fused into it (st): its relu,
// the batchnorm after it and the relu after that, then a log_softmax. A
// compute.LinearHeader computes them all in one pass; otherwise each runs as its own
// layer would, in order, so that the CPU's bits are the unfused layers'.
func (l *linear) forwardHead(dst, src []float32, n int, s *scratch, st step) {
	if lh, ok := s.fwd.(compute.LinearHeader); ok {
		var bias []float32
		if l.b != nil {
			bias = l.b.Data
		}
		h := compute.Head{ReLU: st.bnReLU, LogSoftmax: st.logSoftmax != nil}
		if st.bn != nil {
			h.Scale, h.Shift = st.bn.evalAffine(s)
		}
		if lh.LinearHead(dst[:n*l.oF], src[:n*l.inF], l.w.Data, bias, n, l.inF, l.oF, st.relu, h) {
			return
		}
	}
	l.forwardAct(dst, src, n, s, st.relu)
	if st.bn != nil {
		st.bn.forward(dst, dst, n, s)
	}
	if st.bnReLU {
		reluInPlace(dst[:n*l.oF])
	}
	if st.logSoftmax != nil {
		st.logSoftmax.forward(dst, dst, n, s)
	}
}

// rowBiasAct sets dst[j] = act(src[j] + bias[j]) (bias may be nil).
func rowBiasAct(dst, src, bias []float32, relu bool) {
	for j := range dst {
		v := src[j]
		if bias != nil {
			v += bias[j]
		}
		if relu {
			v = max(v, 0)
		}
		dst[j] = v
	}
}

// prepare writes Wᵀ [in, padCols(out)] (padding zeroed) for the kernel's product.
func (l *linear) prepare(p *prepared) {
	ld := padCols(l.oF)
	wt := grow(&p.wt[l.index], l.inF*ld)
	for f := range l.inF {
		clear(wt[f*ld+l.oF : (f+1)*ld])
	}
	for o := range l.oF {
		for f, v := range l.w.Data[o*l.inF : (o+1)*l.inF] {
			wt[f*ld+o] = v
		}
	}
}

func (l *linear) backward(c *backCtx) {
	n, in, out := c.n, l.inF, l.oF
	if c.dsrc != nil { // dX[n, in] = dY[n, out] · W[out, in]
		c.parallel(n, backChunk, func(_, lo, hi int) {
			gemmNN(hi-lo, in, out, c.ddst[lo*out:], out, l.w.Data, in, c.dsrc[lo*in:], in, false)
		})
	}
	if gw := c.grad(l.w); gw != nil { // dW[out, in] += dY[n, out]ᵀ · X[n, in], split by input column
		const strip = 256
		c.parallel(in, strip, func(_, lo, hi int) {
			gemmTN(out, hi-lo, n, c.ddst, out, c.src[lo:], in, gw[lo:], in, true)
		})
	}
	if gb := c.grad(l.b); gb != nil {
		sumRowsInto(gb, c.ddst, n, out)
	}
}

// addTo adds v to dst element-wise.
func addTo(dst, v []float32) {
	dst = dst[:len(v)]
	for i, x := range v {
		dst[i] += x
	}
}

// sumRowsInto adds the column sums of the n×w matrix x to dst, summing each column in
// float64 in row order.
func sumRowsInto(dst, x []float32, n, w int) {
	for j := range w {
		var s float64
		for i := range n {
			s += float64(x[i*w+j])
		}
		dst[j] += float32(s)
	}
}
