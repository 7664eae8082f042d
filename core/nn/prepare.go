package nn

// prepared is what one pass (a Forward or Record call) derives from the parameters
// once and shares, read only, among its goroutines: the transposed weights of linear
// layers, in the layout the amd64 kernel multiplies by. It is recomputed for every
// pass, so a trainer may change the parameters between passes.
type prepared struct {
	wt    [][]float32 // by layer index; nil where a layer needs nothing
	exact bool        // the model is in exact mode (exact.go): no kernels
}

// preparer is a layer with something to prepare.
type preparer interface{ prepare(p *prepared) }

// takePrepared fills a prepared (reused from an earlier pass when one is free).
func (m *Model) takePrepared() *prepared {
	m.mu.Lock()
	var p *prepared
	if k := len(m.freePrep); k > 0 {
		p, m.freePrep = m.freePrep[k-1], m.freePrep[:k-1]
	}
	m.mu.Unlock()
	if p == nil {
		p = &prepared{wt: make([][]float32, len(m.layers))}
	}
	p.exact = m.exact
	for i, l := range m.layers {
		// the kernels' form, which every product takes (mm)
		if pr, ok := l.(preparer); ok {
			pr.prepare(p)
		} else {
			p.wt[i] = nil
		}
	}
	return p
}

func (m *Model) givePrepared(p *prepared) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.freePrep = append(m.freePrep, p)
}
