package nn

import (
	"sync"
	"sync/atomic"

	"ladle/core/compute"
)

// parallelFor cuts [0, n) into chunks of chunk items and runs f on each, on up to
// workers goroutines. w (0 ≤ w < workers) identifies the goroutine, so that f can use
// per-goroutine scratch. Which goroutine runs which chunk varies from run to run, so
// f must make each chunk's result independent of w: results then do not depend on
// the number of goroutines.
func parallelFor(n, chunk, workers int, f func(w, lo, hi int)) {
	if n <= 0 {
		return
	}
	chunk = max(chunk, 1)
	chunks := (n + chunk - 1) / chunk
	workers = max(min(workers, chunks), 1)
	if workers == 1 {
		for lo := 0; lo < n; lo += chunk {
			f(0, lo, min(lo+chunk, n))
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	wg.Add(workers)
	for w := range workers {
		go func() {
			defer wg.Done()
			for {
				c := int(next.Add(1) - 1)
				if c >= chunks {
					return
				}
				lo := c * chunk
				f(w, lo, min(lo+chunk, n))
			}
		}()
	}
	wg.Wait()
}

// scratch is one goroutine's reusable buffers: im2col columns (or transposed inputs),
// their gradient, padded matmul outputs and small per-channel constants.
type scratch struct {
	cols, dcols, out, tmp []float32
	prep                  *prepared // the pass's shared, read-only data
	fwd                   compute.Forwarder
}

// grow returns (*buf)[:n], reallocating when it is too small. The contents are stale.
func grow(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	return (*buf)[:n]
}
