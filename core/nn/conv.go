package nn

import (
	"fmt"

	"ladle/core/compute"
)

// conv is a 2-d convolution (PyTorch's nn.Conv2d, groups 1, dilation 1): weight
// [out, in, kh, kw], optional bias [out], zero padding. As a matrix product per
// sample: out[oc, p] = Σ_k W[oc, k] · cols[k, p], with cols the im2col matrix.
//
// With stride 1 the forward pass needs no im2col matrix: row k = (ci, ki, kj) of it is
// the input plane ci (zero-padded) read from offset ki·wp + kj, if the output is laid
// out with the padded input's width wp instead of ow. So the product reads the planes
// in place through a table of row offsets and computes oh × wp outputs, of which the
// ow first of each row are kept.
type conv struct {
	layerBase
	w, b           *Param
	c, h, wd       int // input channels, height, width
	oc, kh, kw     int
	sh, sw, ph, pw int
	oh, ow         int
	k, p           int // rows (c·kh·kw) and columns (oh·ow) of the im2col matrix
	ld             int // row stride of the im2col matrix: p rounded up for matmul

	implicit bool    // stride 1: the product reads the padded input through rows
	hp, wp   int     // padded input height and width
	rows     []int32 // offset of im2col row k in the padded input
}

func newConv(b *builder, in []int) (layer, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("needs a [channels, height, width] input, got shape %s", shapeString(in))
	}
	ker := b.layer.Kernel
	want := []int{-1, in[0], -1, -1}
	if !ker.isZero() {
		want[2], want[3] = ker[0], ker[1]
	}
	w, err := b.param("weight", want, true)
	if err != nil {
		return nil, fmt.Errorf("%w (the layer's input has %d channels)", err, in[0])
	}
	st, pad := b.layer.stride2(), b.layer.Padding
	l := &conv{
		w: w, c: in[0], h: in[1], wd: in[2],
		oc: w.Shape[0], kh: w.Shape[2], kw: w.Shape[3],
		sh: st[0], sw: st[1], ph: pad[0], pw: pad[1],
	}
	l.oh, l.ow = poolOut(l.h, l.kh, l.sh, l.ph), poolOut(l.wd, l.kw, l.sw, l.pw)
	if l.oh <= 0 || l.ow <= 0 {
		return nil, fmt.Errorf("a %dx%d kernel (padding %v) does not fit the %dx%d input", l.kh, l.kw, pad, l.h, l.wd)
	}
	l.k, l.p = l.c*l.kh*l.kw, l.oh*l.ow
	l.ld = padCols(l.p)
	l.out = []int{l.oc, l.oh, l.ow}
	if l.implicit = l.sh == 1 && l.sw == 1; l.implicit {
		l.hp, l.wp = l.h+2*l.ph, l.wd+2*l.pw
		for ci := range l.c {
			for ki := range l.kh {
				for kj := range l.kw {
					l.rows = append(l.rows, int32((ci*l.hp+ki)*l.wp+kj))
				}
			}
		}
	}
	if b.layer.hasBias() {
		if l.b, err = b.param("bias", []int{l.oc}, true); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// columns returns the im2col matrix [k, p] of one sample, with row stride l.ld.
func (l *conv) columns(x []float32, s *scratch) []float32 {
	cols := grow(&s.cols, l.k*l.ld)
	im2col(cols, x, l)
	return cols
}

// padded copies one sample into [c, hp, wp] planes with zero borders, followed by
// enough zeros for the product's last, partial rows to stay inside the buffer.
func (l *conv) padded(x []float32, s *scratch) []float32 {
	size := l.c * l.hp * l.wp
	xp := grow(&s.cols, size+l.kw+panel)
	if l.ph == 0 && l.pw == 0 {
		copy(xp, x)
		clear(xp[size:])
		return xp
	}
	clear(xp)
	for ci := range l.c {
		for y := range l.h {
			copy(xp[(ci*l.hp+y+l.ph)*l.wp+l.pw:], x[(ci*l.h+y)*l.wd:(ci*l.h+y+1)*l.wd])
		}
	}
	return xp
}

func (l *conv) forward(dst, src []float32, n int, s *scratch) {
	l.forwardAct(dst, src, n, s, false, nil, false)
}

func (l *conv) forwardReLU(dst, src []float32, n int, s *scratch) {
	l.forwardAct(dst, src, n, s, true, nil, false)
}

// forwardAct computes each sample's product into a padded buffer, bias and relu
// included, and keeps the valid outputs, through bn's affine map when bn is not nil
// (a following batchnorm in eval mode: the same arithmetic as its own pass) and then
// a relu when reluAfter (the relu after that batchnorm: the same as its own pass).
func (l *conv) forwardAct(dst, src []float32, n int, s *scratch, relu bool, bn *batchnorm, reluAfter bool) {
	var bias []float32
	if l.b != nil {
		bias = l.b.Data
	}
	var sc, sh []float32
	if bn != nil {
		sc, sh = bn.evalAffine(s)
	}
	if fa, ok := s.fwd.(compute.ConvAffiner); ok && bn != nil && fa.Conv2DAffine(dst[:n*l.outN], src[:n*l.inN], l.w.Data, bias, n, l.geom(), relu, sc, sh, reluAfter) {
		return // the batchnorm (and its relu) in the device's pass
	}
	if s.fwd != nil && s.fwd.Conv2D(dst[:n*l.outN], src[:n*l.inN], l.w.Data, bias, n, l.geom(), relu) {
		if bn != nil {
			bn.forward(dst, dst, n, s)
		}
		if reluAfter {
			reluInPlace(dst[:n*l.outN])
		}
		return
	}
	for i := range n {
		x, y := src[i*l.inN:(i+1)*l.inN], dst[i*l.outN:(i+1)*l.outN]
		if !l.implicit {
			out := grow(&s.out, l.oc*l.ld)
			mm(s)(l.oc, l.p, l.k, l.w.Data, l.k, l.columns(x, s), l.ld, nil, out, l.ld, bias, relu)
			for o := range l.oc {
				if d, r := y[o*l.p:(o+1)*l.p], out[o*l.ld:o*l.ld+l.p]; bn != nil {
					affineCopy(d, r, sc[o], sh[o], reluAfter)
				} else {
					copy(d, r)
				}
			}
			continue
		}
		n := l.oh * l.wp
		ld := padCols(n)
		out := grow(&s.out, l.oc*ld)
		mm(s)(l.oc, n, l.k, l.w.Data, l.k, l.padded(x, s), 0, l.rows, out, ld, bias, relu)
		for o := range l.oc {
			for oy := range l.oh {
				if d, r := y[(o*l.oh+oy)*l.ow:(o*l.oh+oy+1)*l.ow], out[o*ld+oy*l.wp:o*ld+oy*l.wp+l.ow]; bn != nil {
					affineCopy(d, r, sc[o], sh[o], reluAfter)
				} else {
					copy(d, r)
				}
			}
		}
	}
}

func (l *conv) backward(c *backCtx) {
	gw, gb := c.grad(l.w), c.grad(l.b)
	// Parameter gradients are sums over samples: each chunk of samples sums into
	// its own partial, and the partials are added in chunk order, so the result does
	// not depend on how many goroutines ran.
	chunk, chunks := gradChunks(c.n)
	var pw, pb [][]float32
	if gw != nil {
		pw = c.partials(chunks, len(gw))
	}
	if gb != nil {
		pb = c.partials(chunks, len(gb))
	}
	c.parallel(c.n, chunk, func(w, lo, hi int) {
		s := c.scratch(w)
		ci := lo / chunk
		for i := lo; i < hi; i++ {
			dy := c.ddst[i*l.outN : (i+1)*l.outN]
			if gw != nil { // dW[oc, k] += dY[oc, p] · cols[k, p]ᵀ
				gemmNT(l.oc, l.k, l.p, dy, l.p, l.columns(c.src[i*l.inN:(i+1)*l.inN], s), l.ld, pw[ci], l.k, true)
			}
			if gb != nil {
				for o := range l.oc {
					var sum float64
					for _, v := range dy[o*l.p : (o+1)*l.p] {
						sum += float64(v)
					}
					pb[ci][o] += float32(sum)
				}
			}
			if c.dsrc != nil { // dcols[k, p] = W[oc, k]ᵀ · dY[oc, p], then scattered back
				dx := c.dsrc[i*l.inN : (i+1)*l.inN]
				dcols := grow(&s.dcols, l.k*l.p)
				gemmTN(l.k, l.p, l.oc, l.w.Data, l.k, dy, l.p, dcols, l.p, false)
				col2im(dx, dcols, l)
			}
		}
	})
	addPartials(gw, pw)
	addPartials(gb, pb)
}

// im2col writes the columns of x [c, h, w] for l's kernel into cols [c·kh·kw, oh·ow]
// (row stride l.ld, the padding columns zeroed): row (ci, ki, kj), column (oy, ox)
// holds x[ci, oy·sh − ph + ki, ox·sw − pw + kj], or 0 in the padding.
func im2col(cols, x []float32, l *conv) {
	r := 0
	for ci := range l.c {
		plane := x[ci*l.h*l.wd : (ci+1)*l.h*l.wd]
		for ki := range l.kh {
			for kj := range l.kw {
				row := cols[r*l.ld : r*l.ld+l.p]
				clear(cols[r*l.ld+l.p : (r+1)*l.ld])
				r++
				lo, hi := validRange(l.ow, l.sw, l.pw, kj, l.wd)
				for oy := range l.oh {
					out := row[oy*l.ow : (oy+1)*l.ow]
					iy := oy*l.sh - l.ph + ki
					if iy < 0 || iy >= l.h || lo >= hi {
						clear(out)
						continue
					}
					clear(out[:lo])
					clear(out[hi:])
					in := plane[iy*l.wd:]
					x0 := lo*l.sw - l.pw + kj
					if l.sw == 1 {
						copy(out[lo:hi], in[x0:x0+hi-lo])
						continue
					}
					for ox := lo; ox < hi; ox++ {
						out[ox] = in[x0]
						x0 += l.sw
					}
				}
			}
		}
	}
}

// col2im is im2col's adjoint: it sets dx [c, h, w] to the sum, over every column
// entry that copied an input element, of that entry of dcols.
func col2im(dx, dcols []float32, l *conv) {
	clear(dx)
	r := 0
	for ci := range l.c {
		plane := dx[ci*l.h*l.wd : (ci+1)*l.h*l.wd]
		for ki := range l.kh {
			for kj := range l.kw {
				row := dcols[r*l.p : (r+1)*l.p]
				r++
				lo, hi := validRange(l.ow, l.sw, l.pw, kj, l.wd)
				for oy := range l.oh {
					iy := oy*l.sh - l.ph + ki
					if iy < 0 || iy >= l.h || lo >= hi {
						continue
					}
					src := row[oy*l.ow : (oy+1)*l.ow]
					out := plane[iy*l.wd:]
					x0 := lo*l.sw - l.pw + kj
					for ox := lo; ox < hi; ox++ {
						out[x0] += src[ox]
						x0 += l.sw
					}
				}
			}
		}
	}
}

// validRange is the range [lo, hi) of output columns ox whose input column
// ox·stride − pad + kj lies inside [0, width).
func validRange(ow, stride, pad, kj, width int) (lo, hi int) {
	// ox·stride ≥ pad − kj  ⇔  ox ≥ ceil((pad − kj) / stride)
	lo = 0
	if d := pad - kj; d > 0 {
		lo = (d + stride - 1) / stride
	}
	// ox·stride − pad + kj ≤ width − 1  ⇔  ox ≤ floor((width − 1 + pad − kj) / stride)
	hi = 0
	if d := width - 1 + pad - kj; d >= 0 {
		hi = d/stride + 1
	}
	return min(lo, ow), min(hi, ow)
}

// bias is the layer's bias, nil without one.
func (l *conv) bias() []float32 {
	if l.b == nil {
		return nil
	}
	return l.b.Data
}

// geom is the layer's shape for a compute.Forwarder.
func (l *conv) geom() compute.ConvGeom {
	return compute.ConvGeom{C: l.c, H: l.h, W: l.wd, OC: l.oc, KH: l.kh, KW: l.kw,
		SH: l.sh, SW: l.sw, PH: l.ph, PW: l.pw, OH: l.oh, OW: l.ow}
}
