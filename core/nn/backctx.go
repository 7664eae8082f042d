package nn

// backChunk is how many samples one goroutine takes at a time in a backward pass.
const backChunk = 8

// maxGradChunks bounds the per-chunk partial sums of parameter gradients (memory is
// maxGradChunks × the parameter's size).
const maxGradChunks = 16

// gradChunks cuts a batch of n samples into at most maxGradChunks chunks for
// parameter-gradient partial sums. It depends on n only, never on the number of
// goroutines, which keeps gradients bit-identical across thread counts.
func gradChunks(n int) (chunk, chunks int) {
	chunk = max((n+maxGradChunks-1)/maxGradChunks, 1)
	return chunk, (n + chunk - 1) / chunk
}

// backCtx is what a layer's backward step sees: its forward input and output for the
// whole batch, the gradient of the loss with respect to its output, and where to put
// the gradient with respect to its input (nil when nobody needs it).
type backCtx struct {
	pass  *Pass
	layer int // index of the layer in the model
	n     int
	src   []float32
	dst   []float32
	ddst  []float32
	dsrc  []float32
	grads *Grads
}

func (c *backCtx) grad(p *Param) []float32 { return c.grads.of(p) }

func (c *backCtx) parallel(n, chunk int, f func(w, lo, hi int)) {
	parallelFor(n, chunk, c.pass.workers, f)
}

func (c *backCtx) scratch(w int) *scratch { return c.pass.scratch[w] }

// partials returns chunks zeroed buffers of size elements each.
func (c *backCtx) partials(chunks, size int) [][]float32 {
	out := make([][]float32, chunks)
	buf := make([]float32, chunks*size)
	for i := range out {
		out[i] = buf[i*size : (i+1)*size]
	}
	return out
}

// addPartials adds the partial sums to dst in order.
func addPartials(dst []float32, parts [][]float32) {
	if dst == nil {
		return
	}
	for _, p := range parts {
		addTo(dst, p)
	}
}
