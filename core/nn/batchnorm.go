package nn

import (
	"fmt"
	"math"
)

// batchnorm is PyTorch's BatchNorm1d/2d: per channel c (the first dimension of a
// sample; the rest, if any, is spatial), y = (x − μ)/√(σ² + eps)·γ + β. In eval mode μ
// and σ² are the running statistics; in training mode they are the batch's (σ²
// biased), and the running statistics move toward them with the layer's momentum,
// using the unbiased batch variance, as PyTorch does.
type batchnorm struct {
	layerBase
	gamma, beta *Param // nil when not affine (γ = 1, β = 0)
	mean, vari  *Param // running statistics
	c, inner    int
	eps, mom    float64
}

func newBatchnorm(b *builder, in []int) (layer, error) {
	if len(in) < 1 {
		return nil, fmt.Errorf("needs an input with a channel dimension, got shape %s", shapeString(in))
	}
	c := in[0]
	l := &batchnorm{layerBase: layerBase{out: in}, c: c, inner: numel(in) / c, eps: b.layer.eps(), mom: b.layer.momentum()}
	var err error
	want := []int{c}
	if b.layer.isAffine() {
		if l.gamma, err = b.param("weight", want, true); err != nil {
			return nil, err
		}
		if l.beta, err = b.param("bias", want, true); err != nil {
			return nil, err
		}
	}
	if l.mean, err = b.param("running_mean", want, false); err != nil {
		return nil, err
	}
	if l.vari, err = b.param("running_var", want, false); err != nil {
		return nil, err
	}
	return l, nil
}

func (*batchnorm) inPlace() {}

func (l *batchnorm) g(c int) float64 {
	if l.gamma == nil {
		return 1
	}
	return float64(l.gamma.Data[c])
}

func (l *batchnorm) bt(c int) float64 {
	if l.beta == nil {
		return 0
	}
	return float64(l.beta.Data[c])
}

// evalInvStd is 1/√(running_var + eps) of channel c.
func (l *batchnorm) evalInvStd(c int) float64 {
	return 1 / math.Sqrt(float64(l.vari.Data[c])+l.eps)
}

// forward is eval mode: y = x·s + t per channel, with s = γ/√(σ²+eps), t = β − μ·s.
func (l *batchnorm) forward(dst, src []float32, n int, s *scratch) {
	sc, sh := l.evalAffine(s)
	for i := range n {
		x, y := src[i*l.inN:(i+1)*l.inN], dst[i*l.inN:(i+1)*l.inN]
		for c := range l.c {
			affineCopy(y[c*l.inner:(c+1)*l.inner], x[c*l.inner:(c+1)*l.inner], sc[c], sh[c], false)
		}
	}
}

// evalAffine returns eval mode's per-channel scale s and shift t (in s.tmp).
func (l *batchnorm) evalAffine(s *scratch) (sc, sh []float32) {
	st := grow(&s.tmp, 2*l.c)
	sc, sh = st[:l.c], st[l.c:]
	for c := range l.c {
		k := l.g(c) * l.evalInvStd(c)
		sc[c], sh[c] = float32(k), float32(l.bt(c)-float64(float64(l.mean.Data[c])*k))
	}
	return sc, sh
}

// affineCopy sets dst = src·k + t (dst and src may be the same slice), the product
// rounded before the sum: no fused multiply-add (arm64 would fuse v*k + t), so that
// exact mode's bits hold everywhere; then relu(dst) when relu.
func affineCopy(dst, src []float32, k, t float32, relu bool) {
	dst = dst[:len(src)]
	for j, v := range src {
		dst[j] = float32(v*k) + t
	}
	if relu {
		reluInPlace(dst)
	}
}

// reluInPlace is the relu activation's forward pass on x in place (NaN passes).
func reluInPlace(x []float32) {
	for i, v := range x {
		if !(v > 0 || v != v) {
			x[i] = 0
		}
	}
}

// bnBatch holds the batch statistics of a training-mode pass, for backward.
type bnBatch struct {
	mean, invStd []float64
}

// forwardTrain normalises with the statistics of the whole batch and updates the
// running statistics.
func (l *batchnorm) forwardTrain(dst, src []float32, n, workers int) (*bnBatch, error) {
	m := n * l.inner
	if m < 2 {
		return nil, fmt.Errorf("%s: training mode needs more than one value per channel (batch %d, %d per sample)", l.desc, n, l.inner)
	}
	st := &bnBatch{mean: make([]float64, l.c), invStd: make([]float64, l.c)}
	parallelFor(l.c, 1, workers, func(_, c, _ int) {
		var sum float64
		l.each(src, n, c, func(v *float32) { sum += float64(*v) })
		mu := sum / float64(m)
		var ss float64
		l.each(src, n, c, func(v *float32) { d := float64(*v) - mu; ss += float64(d * d) })
		biased := ss / float64(m)
		inv := 1 / math.Sqrt(biased+l.eps)
		st.mean[c], st.invStd[c] = mu, inv
		k := l.g(c) * inv
		t := l.bt(c) - float64(mu*k) // products rounded here and below: no FMA
		for i := range n {
			off := i*l.inN + c*l.inner
			xs, ys := src[off:off+l.inner], dst[off:off+l.inner]
			for j, v := range xs {
				ys[j] = float32(float64(float64(v)*k) + t)
			}
		}
		rm, rv := &l.mean.Data[c], &l.vari.Data[c]
		*rm = float32(float64((1-l.mom)*float64(*rm)) + float64(l.mom*mu))
		*rv = float32(float64((1-l.mom)*float64(*rv)) + l.mom*ss/float64(m-1))
	})
	return st, nil
}

// each calls f on every element of channel c over the batch, in order.
func (l *batchnorm) each(x []float32, n, c int, f func(*float32)) {
	for i := range n {
		off := i*l.inN + c*l.inner
		for j := range l.inner {
			f(&x[off+j])
		}
	}
}

func (l *batchnorm) backward(c *backCtx) {
	gg, gb := c.grad(l.gamma), c.grad(l.beta)
	st := c.pass.bn[c.layer]
	n := c.n
	m := float64(n * l.inner)
	c.parallel(l.c, 1, func(_, ch, _ int) {
		mu, inv := float64(l.mean.Data[ch]), l.evalInvStd(ch)
		if st != nil {
			mu, inv = st.mean[ch], st.invStd[ch]
		}
		// Σ dy and Σ dy·x̂ over the channel, in sample order.
		var sdy, sdyx float64
		for i := range n {
			off := i*l.inN + ch*l.inner
			xs, dys := c.src[off:off+l.inner], c.ddst[off:off+l.inner]
			for j, dy := range dys {
				sdy += float64(dy)
				sdyx += float64(float64(dy) * (float64(xs[j]) - mu) * inv) // no FMA
			}
		}
		if gg != nil {
			gg[ch] += float32(sdyx)
		}
		if gb != nil {
			gb[ch] += float32(sdy)
		}
		if c.dsrc == nil {
			return
		}
		k := l.g(ch) * inv
		for i := range n {
			off := i*l.inN + ch*l.inner
			xs, dys, dxs := c.src[off:off+l.inner], c.ddst[off:off+l.inner], c.dsrc[off:off+l.inner]
			for j, dy := range dys {
				if st == nil { // eval mode: an affine map per channel
					dxs[j] = float32(float64(dy) * k)
					continue
				}
				// training mode: μ and σ² depend on x as well:
				// dx = γ/σ · (dy − Σdy/M − x̂·Σ(dy·x̂)/M)
				xh := (float64(xs[j]) - mu) * inv
				dxs[j] = float32(k * (float64(dy) - sdy/m - xh*sdyx/m))
			}
		}
	})
}
