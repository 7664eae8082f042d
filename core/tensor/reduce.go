package tensor

import (
	"fmt"
	"math"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// Block is the number of elements in one reduction block. It is part of the
// determinism contract: changing it changes the low bits of every reduction.
const Block = 4096

func checkLen(op string, a, b int) {
	if a != b {
		panic(fmt.Sprintf("tensor.%s: length mismatch %d != %d", op, a, b))
	}
}

// dotBlock is the in-block kernel: four lanes by element position, combined as
// (l0+l1)+(l2+l3). float64(a)*float64(b) of float32 values is exact, so the adds are
// the only roundings and the result cannot depend on FMA fusion.
func dotBlock(x, y []float32) float64 {
	n := len(x)
	y = y[:n]
	var l0, l1, l2, l3 float64
	i := 0
	for ; i+4 <= n; i += 4 {
		l0 += float64(x[i]) * float64(y[i])
		l1 += float64(x[i+1]) * float64(y[i+1])
		l2 += float64(x[i+2]) * float64(y[i+2])
		l3 += float64(x[i+3]) * float64(y[i+3])
	}
	if i < n {
		l0 += float64(x[i]) * float64(y[i])
	}
	if i+1 < n {
		l1 += float64(x[i+1]) * float64(y[i+1])
	}
	if i+2 < n {
		l2 += float64(x[i+2]) * float64(y[i+2])
	}
	return (l0 + l1) + (l2 + l3)
}

func sumSqBlock(x []float32) float64 {
	n := len(x)
	var l0, l1, l2, l3 float64
	i := 0
	for ; i+4 <= n; i += 4 {
		a, b, c, d := float64(x[i]), float64(x[i+1]), float64(x[i+2]), float64(x[i+3])
		l0 += a * a
		l1 += b * b
		l2 += c * c
		l3 += d * d
	}
	if i < n {
		l0 += float64(x[i]) * float64(x[i])
	}
	if i+1 < n {
		l1 += float64(x[i+1]) * float64(x[i+1])
	}
	if i+2 < n {
		l2 += float64(x[i+2]) * float64(x[i+2])
	}
	return (l0 + l1) + (l2 + l3)
}

func sumBlock(x []float32) float64 {
	n := len(x)
	var l0, l1, l2, l3 float64
	i := 0
	for ; i+4 <= n; i += 4 {
		l0 += float64(x[i])
		l1 += float64(x[i+1])
		l2 += float64(x[i+2])
		l3 += float64(x[i+3])
	}
	if i < n {
		l0 += float64(x[i])
	}
	if i+1 < n {
		l1 += float64(x[i+1])
	}
	if i+2 < n {
		l2 += float64(x[i+2])
	}
	return (l0 + l1) + (l2 + l3)
}

// Dot is Σ x[i]·y[i] in float64, in the fixed block order described in the package
// documentation. x and y must have the same length (it panics otherwise: callers
// validate lengths first).
func Dot(x, y []float32) float64 {
	checkLen("Dot", len(x), len(y))
	total := 0.0
	for lo := 0; lo < len(x); lo += Block {
		hi := min(lo+Block, len(x))
		total += dotBlock(x[lo:hi], y[lo:hi])
	}
	return total
}

// SumSq is Σ x[i]² in float64, in the fixed block order.
func SumSq(x []float32) float64 {
	total := 0.0
	for lo := 0; lo < len(x); lo += Block {
		hi := min(lo+Block, len(x))
		total += sumSqBlock(x[lo:hi])
	}
	return total
}

// Norm is the Euclidean norm sqrt(SumSq(x)).
func Norm(x []float32) float64 { return math.Sqrt(SumSq(x)) }

// Sum is Σ x[i] in float64, in the fixed block order.
func Sum(x []float32) float64 {
	total := 0.0
	for lo := 0; lo < len(x); lo += Block {
		hi := min(lo+Block, len(x))
		total += sumBlock(x[lo:hi])
	}
	return total
}

// BlockReduce cuts [0, n) into blocks of Block elements, calls f(lo, hi) once per
// block, and returns the partials added in block order to a total starting at 0. With
// workers > 1 the blocks are computed concurrently (f must then be safe to call from
// several goroutines); the result is bit-identical to workers = 1 as long as f is a
// deterministic function of its block. f should use the four-lane scheme of the package
// documentation when it must agree with Dot/SumSq/Sum.
func BlockReduce(n, workers int, f func(lo, hi int) float64) float64 {
	nb := (n + Block - 1) / Block
	if workers <= 1 || nb <= 1 {
		total := 0.0
		for lo := 0; lo < n; lo += Block {
			total += f(lo, min(lo+Block, n))
		}
		return total
	}
	parts := make([]float64, nb)
	workers = min(workers, nb)
	var wg sync.WaitGroup
	var next sync.Mutex
	var failed atomic.Value
	b := 0
	for range workers {
		wg.Go(func() {
			// A memory fault (an input mapped from a file that shrank) or any panic
			// goes back to the caller's goroutine, where Merge recovers it.
			debug.SetPanicOnFault(true)
			defer func() {
				if r := recover(); r != nil {
					failed.CompareAndSwap(nil, panicked{r})
				}
			}()
			for {
				next.Lock()
				i := b
				b++
				next.Unlock()
				if i >= nb {
					return
				}
				lo := i * Block
				parts[i] = f(lo, min(lo+Block, n))
			}
		})
	}
	wg.Wait()
	if r, ok := failed.Load().(panicked); ok {
		panic(r.value)
	}
	total := 0.0
	for _, p := range parts {
		total += p
	}
	return total
}

// GramDiff fills g (len(xs)² entries, row-major) with the Gram matrix of the deltas
// δi = xs[i][lo:hi] − base[lo:hi] (each difference rounded to float32, as a task vector
// is): g[i*n+j] = <δi, δj>. With base == nil the deltas are xs[i] themselves. Each entry
// is bit-identical to Dot (or SumSq on the diagonal) of the materialised deltas, but the
// inputs are read once, block by block, whatever the number of vectors. scratch is
// reused when it holds at least len(xs)·Block elements (it may be nil).
func GramDiff(xs [][]float32, base []float32, lo, hi int, g []float64, scratch []float32) {
	n := len(xs)
	checkLen("GramDiff", len(g), n*n)
	clear(g)
	if base != nil && len(scratch) < n*Block {
		scratch = make([]float32, n*Block)
	}
	ds := make([][]float32, n)
	for blo := lo; blo < hi; blo += Block {
		bhi := min(blo+Block, hi)
		m := bhi - blo
		for i, x := range xs {
			if base == nil {
				ds[i] = x[blo:bhi]
				continue
			}
			d := scratch[i*Block : i*Block+m]
			xb, bb := x[blo:bhi], base[blo:bhi]
			for k := range d {
				d[k] = xb[k] - bb[k]
			}
			ds[i] = d
		}
		for i := range n {
			g[i*n+i] += sumSqBlock(ds[i])
			for j := i + 1; j < n; j++ {
				g[i*n+j] += dotBlock(ds[i], ds[j])
			}
		}
	}
	for i := range n {
		for j := i + 1; j < n; j++ {
			g[j*n+i] = g[i*n+j]
		}
	}
}

// panicked carries a recovered panic value (atomic.Value needs one concrete type).
type panicked struct{ value any }
