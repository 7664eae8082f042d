package nn

// layer is one step of a model.
type layer interface {
	base() *layerBase
	// forward computes n samples from src into dst on the calling goroutine.
	// Layers that implement inPlacer accept dst == src. Batchnorm runs in eval mode
	// here; training mode has its own step (see Pass).
	forward(dst, src []float32, n int, s *scratch)
	// backward computes the gradient with respect to the layer's input (c.dsrc, when
	// not nil) and adds the gradients of its parameters to c.grads, for the whole
	// batch; it may use c.parallel.
	backward(c *backCtx)
}

// inPlacer marks element-wise layers, which may overwrite their input with their
// output when nothing needs the input afterwards (inference).
type inPlacer interface{ inPlace() }

func isIdentity(l layer) bool { _, ok := l.(*identity); return ok }
