package nn

import (
	"fmt"

	"ladle/core/compute"
)

// inferChunk is how many samples one goroutine pushes through the whole network at
// a time. Convolutions go sample by sample anyway; a linear layer reads its whole
// weight matrix once per chunk, so the chunk amortises that over 16 samples.
const inferChunk = 16

// workspace is one goroutine's buffers for Forward: two activation buffers it
// alternates between, layer after layer, and the layers' scratch.
type workspace struct {
	a, b []float32
	s    scratch
}

// Forward runs the model in eval mode on batch samples of raw input x (batch ×
// InputSize values, before input_scale and normalize) and returns the final layer's
// output (batch × OutputSize values).
func (m *Model) Forward(x []float32, batch int) ([]float32, error) {
	out := make([]float32, batch*m.outSize)
	if err := m.ForwardInto(out, x, batch); err != nil {
		return nil, err
	}
	return out, nil
}

// ForwardInto is Forward writing into dst (batch × OutputSize values).
//
// Samples are independent in eval mode, so the batch is cut into chunks that
// goroutines take in turn, each running every layer on its chunk with its own
// buffers (kept for the next call). A sample's output does not depend on the batch
// it came in, nor on the number of goroutines.
func (m *Model) ForwardInto(dst, x []float32, batch int) error {
	if err := m.checkBatch(x, batch); err != nil {
		return err
	}
	if len(dst) != batch*m.outSize {
		return fmt.Errorf("nn: output buffer holds %d values, want %d (batch %d × %d)", len(dst), batch*m.outSize, batch, m.outSize)
	}
	workers := m.workers()
	chunk := min(inferChunk, max((batch+workers-1)/workers, 1))
	if m.fwd != nil {
		// A device pays per call, not per sample: one call per layer for the batch.
		workers, chunk = 1, max(batch, 1)
	}
	workers = min(workers, (batch+chunk-1)/chunk)
	wss := m.takeWorkspaces(workers)
	defer m.giveWorkspaces(wss)
	prep := m.takePrepared()
	defer m.givePrepared(prep)
	for _, ws := range wss {
		ws.s.prep, ws.s.fwd = prep, m.fwd
	}
	parallelFor(batch, chunk, workers, func(w, lo, hi int) {
		m.forwardChunk(wss[w], dst[lo*m.outSize:hi*m.outSize], x[lo*m.inSize:hi*m.inSize], hi-lo)
	})
	return nil
}

func (m *Model) checkBatch(x []float32, batch int) error {
	if batch < 0 {
		return fmt.Errorf("nn: negative batch %d", batch)
	}
	if len(x) != batch*m.inSize {
		return fmt.Errorf("nn: input holds %d values, want %d (batch %d × %d for input shape %s)", len(x), batch*m.inSize, batch, m.inSize, shapeString(m.inShape))
	}
	return nil
}

func (m *Model) forwardChunk(ws *workspace, dst, x []float32, n int) {
	cur, next := grow(&ws.a, n*m.maxAct), grow(&ws.b, n*m.maxAct)
	m.preprocess(cur[:n*m.inSize], x)
	for _, st := range m.steps {
		l, b := st.layer, st.layer.base()
		switch _, inPlace := l.(inPlacer); {
		case st.act != nil:
			forwardWithAct(l, st.act, next[:n*b.outN], cur[:n*b.inN], n, &ws.s)
			cur, next = next, cur
		case st.bn != nil || st.logSoftmax != nil:
			if c, ok := l.(*conv); ok {
				c.forwardAct(next[:n*b.outN], cur[:n*b.inN], n, &ws.s, st.relu, st.bn, st.bnReLU)
			} else {
				l.(*linear).forwardHead(next[:n*b.outN], cur[:n*b.inN], n, &ws.s, st)
			}
			cur, next = next, cur
		case st.relu:
			l.(reluFuser).forwardReLU(next[:n*b.outN], cur[:n*b.inN], n, &ws.s)
			cur, next = next, cur
		case inPlace:
			l.forward(cur[:n*b.outN], cur[:n*b.inN], n, &ws.s)
		default:
			l.forward(next[:n*b.outN], cur[:n*b.inN], n, &ws.s)
			cur, next = next, cur
		}
	}
	copy(dst, cur[:n*m.outSize])
}

// step is one layer of an inference pass.
type step struct {
	layer layer
	relu  bool       // the relu that follows is fused into this layer
	bn    *batchnorm // the batchnorm after a convolution or linear layer (and its relu), fused
	// bnReLU: the relu after that batchnorm, fused too (conv → batchnorm → relu)
	bnReLU bool
	// logSoftmax: the log_softmax after a linear layer (and its batchnorm), a
	// classifier's head, which a compute.LinearHeader computes in the layer's pass
	logSoftmax *softmax
	// act: the gelu, tanh or sigmoid after a linear layer or a convolution, which a
	// compute.Activator applies in the layer's pass
	act *activation
}

// reluFuser is a layer that can apply a following relu in its own output loop,
// saving a pass over the activations.
type reluFuser interface {
	forwardReLU(dst, src []float32, n int, s *scratch)
}

// inferenceSteps drops the identities and fuses each relu into the layer before it
// when that layer can take it, and a batchnorm (eval mode: a per-channel affine map)
// into the convolution before it, with the relu that follows that batchnorm, which
// it applies as it copies its output out of the product's padded rows, saving a pass
// (two) over the activations. A linear layer takes the batchnorm after it (and that
// batchnorm's relu) and then a log_softmax: on the CPU they run as their own layers
// would, in order (linear.forwardHead), and a device computes them in the layer's
// pass, so that a classifier's output needs no device round trip of its own. A gelu,
// tanh or sigmoid right after a linear layer or a convolution goes with it the same
// way (forwardWithAct).
func inferenceSteps(layers []layer) []step {
	var out []step
	for i := 0; i < len(layers); i++ {
		l := layers[i]
		if isIdentity(l) {
			continue
		}
		st := step{layer: l}
		if _, ok := l.(reluFuser); ok && i+1 < len(layers) {
			if a, ok := layers[i+1].(*activation); ok && a.op == OpReLU {
				st.relu = true
				i++
			}
		}
		if !st.relu {
			if st.act = fusableAct(l, layers, i+1); st.act != nil {
				i++
			}
		}
		if c, ok := l.(*conv); ok && st.act == nil && i+1 < len(layers) {
			if bn, ok := layers[i+1].(*batchnorm); ok && bn.c == c.oc && bn.inN == c.outN {
				st.bn = bn
				i++
				if i+1 < len(layers) {
					if a, ok := layers[i+1].(*activation); ok && a.op == OpReLU {
						st.bnReLU = true
						i++
					}
				}
			}
		}
		if ln, ok := l.(*linear); ok && st.act == nil {
			if j := nextValueLayer(layers, i+1); j < len(layers) {
				if bn, ok := layers[j].(*batchnorm); ok && bn.c == ln.oF && bn.inner == 1 {
					st.bn, i = bn, j
					if j := nextValueLayer(layers, i+1); j < len(layers) {
						if a, ok := layers[j].(*activation); ok && a.op == OpReLU {
							st.bnReLU, i = true, j
						}
					}
				}
			}
			if j := nextValueLayer(layers, i+1); j < len(layers) {
				if sm, ok := layers[j].(*softmax); ok && sm.log && sm.inner == 1 {
					st.logSoftmax, i = sm, j
				}
			}
		}
		out = append(out, st)
	}
	return out
}

// fusableAct returns layers[i] when it is a gelu, tanh or sigmoid after a linear
// layer or a convolution l without a fused relu.
func fusableAct(l layer, layers []layer, i int) *activation {
	if i >= len(layers) {
		return nil
	}
	switch l.(type) {
	case *linear, *conv:
	default:
		return nil
	}
	if a, ok := layers[i].(*activation); ok && a.kind() != 0 {
		return a
	}
	return nil
}

// kind is the activation as a compute.Act; 0 for relu, which the layers before it
// fuse themselves, exactly.
func (l *activation) kind() compute.Act {
	switch l.op {
	case OpGELU:
		return compute.GELU
	case OpTanh:
		return compute.Tanh
	case OpSigmoid:
		return compute.Sigmoid
	}
	return 0
}

// forwardWithAct runs a linear layer or a convolution and the activation a after it:
// in one pass on a compute.Activator, else the layer (on the Forwarder, if any) and
// then the activation's own pass, the CPU's bits.
func forwardWithAct(l layer, a *activation, dst, src []float32, n int, s *scratch) {
	if ac, ok := s.fwd.(compute.Activator); ok {
		switch l := l.(type) {
		case *linear:
			if ac.LinearAct(dst, src, l.w.Data, l.bias(), n, l.inF, l.oF, a.kind()) {
				return
			}
		case *conv:
			if ac.Conv2DAct(dst, src, l.w.Data, l.bias(), n, l.geom(), a.kind()) {
				return
			}
		}
	}
	l.forward(dst, src, n, s)
	a.forward(dst, dst, n, s)
}

// nextValueLayer returns the index of the first layer from i on that is not an
// identity (flatten, dropout), or len(layers).
func nextValueLayer(layers []layer, i int) int {
	for i < len(layers) && isIdentity(layers[i]) {
		i++
	}
	return i
}

// preprocess applies input_scale and normalize: dst = x·scale[c] + shift[c].
func (m *Model) preprocess(dst, x []float32) {
	ch, inner := len(m.scale), m.chInner
	for i := 0; i < len(x); i += m.inSize {
		for c := range ch {
			k, t := m.scale[c], m.shift[c]
			xs, ds := x[i+c*inner:i+(c+1)*inner], dst[i+c*inner:i+(c+1)*inner]
			ds = ds[:len(xs)]
			for j, v := range xs {
				ds[j] = float32(v*k) + t // rounded product, no fused multiply-add (as in batchnorm)
			}
		}
	}
}

func (m *Model) takeWorkspaces(n int) []*workspace {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*workspace, n)
	for i := range out {
		if k := len(m.free); k > 0 {
			out[i], m.free = m.free[k-1], m.free[:k-1]
		} else {
			out[i] = &workspace{}
		}
	}
	return out
}

func (m *Model) giveWorkspaces(wss []*workspace) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.free = append(m.free, wss...)
}
