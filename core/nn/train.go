package nn

import "fmt"

// Mode selects how batchnorm behaves in a recorded pass.
type Mode int

const (
	// Eval uses the running statistics (inference, Fisher information).
	Eval Mode = iota
	// Train normalises with the batch's statistics and updates the running ones.
	Train
)

// Pass is a forward pass that kept every layer's activations, so that Backward can
// compute gradients. Unlike Forward it runs layer by layer over the whole batch
// (batchnorm's training mode needs the whole batch at each step), splitting each
// layer's work across goroutines.
type Pass struct {
	m       *Model
	mode    Mode
	n       int
	acts    [][]float32 // acts[0]: the preprocessed input; acts[i+1]: layer i's output
	bn      []*bnBatch  // training-mode batch statistics per layer (nil elsewhere)
	workers int
	scratch []*scratch
}

// Record runs the model on batch samples of raw input x and keeps what Backward
// needs. In Train mode the batchnorm running statistics of the model are updated, as
// a PyTorch training step does.
func (m *Model) Record(x []float32, batch int, mode Mode) (*Pass, error) {
	if err := m.checkBatch(x, batch); err != nil {
		return nil, err
	}
	p := &Pass{m: m, mode: mode, n: batch, acts: make([][]float32, len(m.layers)+1),
		bn: make([]*bnBatch, len(m.layers)), workers: m.workers()}
	prep := m.takePrepared()
	defer m.givePrepared(prep)
	p.scratch = make([]*scratch, p.workers)
	for i := range p.scratch {
		p.scratch[i] = &scratch{prep: prep}
	}
	p.acts[0] = make([]float32, batch*m.inSize)
	m.preprocess(p.acts[0], x)
	for i, l := range m.layers {
		b, src := l.base(), p.acts[i]
		if isIdentity(l) {
			p.acts[i+1] = src
			continue
		}
		dst := make([]float32, batch*b.outN)
		p.acts[i+1] = dst
		if bn, ok := l.(*batchnorm); ok && mode == Train {
			st, err := bn.forwardTrain(dst, src, batch, p.workers)
			if err != nil {
				return nil, err
			}
			p.bn[i] = st
			continue
		}
		parallelFor(batch, backChunk, p.workers, func(w, lo, hi int) {
			l.forward(dst[lo*b.outN:hi*b.outN], src[lo*b.inN:hi*b.inN], hi-lo, p.scratch[w])
		})
	}
	for _, s := range p.scratch {
		s.prep = nil // given back above; backward does not use it
	}
	return p, nil
}

// Output is the final layer's output (batch × OutputSize values). It belongs to the pass.
func (p *Pass) Output() []float32 { return p.acts[len(p.acts)-1] }

// Activation is the output of layer i (the preprocessed input for i = −1).
func (p *Pass) Activation(i int) []float32 { return p.acts[i+1] }

// Backward propagates dout, the gradient of a loss with respect to Output(), back
// through the network. It adds the gradient of every trainable parameter to g (nil
// to skip them) and returns the gradient with respect to the raw input x that Record
// was given. A pass may be propagated more than once (e.g. for several losses).
func (p *Pass) Backward(dout []float32, g *Grads) (dx []float32, err error) {
	m := p.m
	if len(dout) != p.n*m.outSize {
		return nil, fmt.Errorf("nn: output gradient holds %d values, want %d (batch %d × %d)", len(dout), p.n*m.outSize, p.n, m.outSize)
	}
	if g != nil && g.m != m {
		return nil, fmt.Errorf("nn: gradients were made for another model")
	}
	d := dout
	for i := len(m.layers) - 1; i >= 0; i-- {
		l := m.layers[i]
		if isIdentity(l) {
			continue
		}
		dsrc := make([]float32, p.n*l.base().inN)
		l.backward(&backCtx{pass: p, layer: i, n: p.n, src: p.acts[i], dst: p.acts[i+1], ddst: d, dsrc: dsrc, grads: g})
		d = dsrc
	}
	// Through the input transform x·scale + shift.
	dx = make([]float32, len(d))
	ch, inner := len(m.scale), m.chInner
	for i := 0; i < len(d); i += m.inSize {
		for c := range ch {
			for j := range inner {
				at := i + c*inner + j
				dx[at] = d[at] * m.scale[c]
			}
		}
	}
	return dx, nil
}
