package compute

import (
	"math"

	"ladle/core/tensor"
)

// Emulator is a Merger that does on the CPU, element by element, exactly what the WebGPU
// kernels do: UnitSumExact with the CPU reference for the elements it flags, and key
// histograms that decline unsafe subtractions. It is the executable specification of
// the GPU path: the merge tests run every method through it and compare bytes, and
// Flagged counts the elements the CPU had to redo.
type Emulator struct {
	Flagged     int64 // elements UnitSum recomputed on the CPU
	Sums, Hist  int   // calls that ran (returned true)
	Ties        int   // TiesSums calls that ran
	Tasks       int   // TaskSums calls that ran
	TiesFlagged int64 // elements TiesSums and TaskSums left to the caller
}

func (m *Emulator) TiesSums(mixed []float64, count []uint32, xs [][]float32, base []float32, keep []tensor.Bound, lo int) bool {
	if !m.sums(TiesSumsExact, mixed, count, xs, base, keep, lo) {
		return false
	}
	m.Ties++
	return true
}

func (m *Emulator) TaskSums(sum []float64, count []uint32, xs [][]float32, base []float32, keep []tensor.Bound, lo int) bool {
	if !m.sums(TaskSumsExact, sum, count, xs, base, keep, lo) {
		return false
	}
	m.Tasks++
	return true
}

func (m *Emulator) sums(exact func([]uint32, uint32, []tensor.Bound, int64) (float64, uint32, bool), mixed []float64, count []uint32, xs [][]float32, base []float32, keep []tensor.Bound, lo int) bool {
	if len(xs) == 0 || len(xs) > 1<<16 {
		return false
	}
	in := make([]uint32, len(xs))
	for c := range mixed {
		for i, x := range xs {
			in[i] = math.Float32bits(x[c])
		}
		v, k, ok := exact(in, math.Float32bits(base[c]), keep, int64(lo+c))
		if !ok {
			m.TiesFlagged++
			mixed[c], count[c] = 0, TiesFlag
			continue
		}
		mixed[c], count[c] = v, k
	}
	return true
}

func (m *Emulator) UnitSum(out []float32, xs [][]float32, div, mul float64) bool {
	d, e, ok := ExactUnitSumMode(div, mul)
	if !ok || len(xs) == 0 || len(xs) > 1<<16 {
		return false
	}
	in := make([]uint32, len(xs))
	one := make([][]float32, len(xs))
	for c := range out {
		for i, x := range xs {
			in[i] = math.Float32bits(x[c])
		}
		if v, ok := UnitSumExact(in, d, e); ok {
			out[c] = math.Float32frombits(v)
			continue
		}
		m.Flagged++
		for i, x := range xs {
			one[i] = x[c : c+1]
		}
		UnitSumRef(out[c:c+1], one, div, mul)
	}
	m.Sums++
	return true
}

func (m *Emulator) KeyHistogram(h *Hist16, x, base []float32, high bool, match uint32) bool {
	for i, v := range x {
		if !SafeForSubtraction(math.Float32bits(v)) || (base != nil && !SafeForSubtraction(math.Float32bits(base[i]))) {
			return false
		}
	}
	KeyHistogramRef(h, x, base, high, match)
	m.Hist++
	return true
}
