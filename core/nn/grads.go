package nn

// Grads holds one gradient per trainable parameter of a model, in the order of
// Model.Params (nil for the batchnorm running statistics). Backward adds to it, so
// several passes can accumulate before a step; Zero resets it.
type Grads struct {
	m    *Model
	data [][]float32
}

// NewGrads allocates zero gradients for every trainable parameter of m.
func (m *Model) NewGrads() *Grads {
	g := &Grads{m: m, data: make([][]float32, len(m.params))}
	for i, p := range m.params {
		if p.Trainable {
			g.data[i] = make([]float32, len(p.Data))
		}
	}
	return g
}

// At is the gradient of Params()[i] (nil for a buffer such as running_mean).
func (g *Grads) At(i int) []float32 { return g.data[i] }

// Of is the gradient of the named parameter, or nil.
func (g *Grads) Of(name string) []float32 {
	if i, ok := g.m.byName[name]; ok {
		return g.data[i]
	}
	return nil
}

// Zero sets every gradient to 0.
func (g *Grads) Zero() {
	for _, d := range g.data {
		clear(d)
	}
}

// of is the gradient slice of p, or nil when p is absent, not trainable or g is nil.
func (g *Grads) of(p *Param) []float32 {
	if g == nil || p == nil || !p.Trainable {
		return nil
	}
	return g.Of(p.Name)
}
