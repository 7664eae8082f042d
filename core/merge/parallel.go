package merge

import (
	"fmt"
	"sync"
	"sync/atomic"

	"ladle/core/tensor"
)

// chunkLen is the number of elements element-wise loops process at a time: small enough
// that a chunk of every model plus the float64 accumulators stay in L1/L2, large enough
// that the per-chunk call costs nothing.
const chunkLen = 4096

// parallelChunks calls f(w, lo, hi) for consecutive chunks of [0, n) of the given
// length, on up to workers goroutines; w (0 ≤ w < workers) identifies the goroutine so
// f can use per-worker scratch. Chunks write disjoint outputs, so the result does not
// depend on workers. A panic in f comes back as an error (it would otherwise kill the
// process from a goroutine that no recover can reach).
func parallelChunks(n, chunk, workers int, f func(w, lo, hi int)) (err error) {
	if n <= 0 {
		return nil
	}
	chunk = max(chunk, 1)
	nc := (n + chunk - 1) / chunk
	workers = max(1, min(workers, nc))
	if workers == 1 {
		defer panicOnFault()()
		defer func() {
			if r := recover(); r != nil {
				err = panicError(r)
			}
		}()
		for lo := 0; lo < n; lo += chunk {
			f(0, lo, min(lo+chunk, n))
		}
		return nil
	}
	var next atomic.Int64
	var once sync.Once
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			panicOnFault() // this goroutine ends with the work: nothing to restore
			defer func() {
				if r := recover(); r != nil {
					once.Do(func() { err = panicError(r) })
				}
			}()
			for {
				c := int(next.Add(1) - 1)
				if c >= nc {
					return
				}
				lo := c * chunk
				f(w, lo, min(lo+chunk, n))
			}
		})
	}
	wg.Wait()
	return err
}

// panicError turns a recovered panic into an error: a FaultError for a memory fault
// (an input file that shrank), else an internal error.
func panicError(r any) error {
	if fe, ok := asFault(r); ok {
		return fe
	}
	return fmt.Errorf("internal error: %v", r)
}

// scratch is one worker's reusable buffers, so chunk functions allocate nothing after
// their first chunk.
type scratch struct {
	f64 [][]float64
	f32 [][]float32
	u32 []uint32
	ds  [][]float32
	rk  tensor.Ranker
}

// float64s returns buffer number slot with n elements (contents undefined).
func (s *scratch) float64s(slot, n int) []float64 {
	for len(s.f64) <= slot {
		s.f64 = append(s.f64, nil)
	}
	if cap(s.f64[slot]) < n {
		s.f64[slot] = make([]float64, n)
	}
	return s.f64[slot][:n]
}

// float32s returns float32 buffer number slot with n elements (contents undefined).
func (s *scratch) float32s(slot, n int) []float32 {
	for len(s.f32) <= slot {
		s.f32 = append(s.f32, nil)
	}
	if cap(s.f32[slot]) < n {
		s.f32[slot] = make([]float32, n)
	}
	return s.f32[slot][:n]
}

func (s *scratch) uint32s(n int) []uint32 {
	if cap(s.u32) < n {
		s.u32 = make([]uint32, n)
	}
	return s.u32[:n]
}

// slices returns a reusable slice of n slice headers.
func (s *scratch) slices(n int) [][]float32 {
	if cap(s.ds) < n {
		s.ds = make([][]float32, n)
	}
	return s.ds[:n]
}

// run applies a chunk function over [0, len(out)) in chunks of chunk elements (0:
// chunkLen) with the job's workers, each worker with its own scratch.
func (j *Job) run(out []float32, chunk int, f func(s *scratch, lo, hi int)) error {
	if chunk <= 0 {
		chunk = chunkLen
	}
	// No more workers (each with its scratch) than chunks: a huge Workers costs nothing.
	workers := max(1, min(j.Workers, (len(out)+chunk-1)/chunk))
	ss := make([]scratch, workers)
	if err := parallelChunks(len(out), chunk, workers, func(w, lo, hi int) { f(&ss[w], lo, hi) }); err != nil {
		e := j.errorf("%v", err).(*Error)
		e.Err = err
		return e
	}
	return nil
}
