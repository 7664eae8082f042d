package compute

import (
	"math"
	"math/bits"

	"ladle/core/tensor"
)

// TIES' sign election and disjoint sums (METHODS.md, ties steps 2 to 5) for models
// weighted 1, the pieces of TIES whose cost grows with the number of models.

// TiesFlag marks, in TiesSums' count, an element the kernel could not compute exactly:
// the caller computes it on the CPU.
const TiesFlag = math.MaxUint32

// TiesSumsRef is Merger.TiesSums on the CPU, as package merge computes it with every
// weight 1: δᵢ = xs[i][c] − base[c] in float32, kept where keep[i] selects it (the
// element's index in the tensor is lo + c), the elected sign + where Σδᵢ ≥ 0 (a float64
// sum in model order), and mixed[c] = Σ of the kept nonzero δᵢ of that sign, count[c]
// = how many there are (float64 sums in model order).
func TiesSumsRef(mixed []float64, count []uint32, xs [][]float32, base []float32, keep []tensor.Bound, lo int) {
	for c := range mixed {
		var sum float64
		for i, x := range xs {
			if v := x[c] - base[c]; keep[i].Keep(int64(lo+c), tensor.AbsKey(v)) {
				sum += float64(v)
			}
		}
		var m float64
		var k uint32
		for i, x := range xs {
			v := x[c] - base[c]
			if !keep[i].Keep(int64(lo+c), tensor.AbsKey(v)) || v == 0 {
				continue
			}
			if (v < 0) == (sum < 0) {
				m += float64(v)
				k++
			}
		}
		mixed[c], count[c] = m, k
	}
}

// TiesSumsExact computes one element of TiesSums from the float32 bits of the models'
// values xs and the base's b, with integer arithmetic and one float32 subtraction per
// model, as the WGSL kernel does. idx is the element's index in the tensor. It returns
// ok = false where it cannot prove its result equal to TiesSumsRef's: an input that is
// not SafeForSubtraction (so NaN, infinities and subnormals), or kept deltas spanning
// more than float64's 53 bits (then float64 sums round).
//
// With every input safe, each δ is zero or a normal float32, every partial sum is an
// integer multiple of 2^minLow, the smallest unit of the nonzero δ, below
// models·2^(maxTop+1); when that fits 53 bits the float64 sums are exact, so the
// elected sign is the exact sum's and mixed is the exact integer sum of the agreeing
// deltas times 2^minLow.
func TiesSumsExact(xs []uint32, b uint32, keep []tensor.Bound, idx int64) (mixed float64, count uint32, ok bool) {
	e, ok := deltaSums(xs, b, keep, idx)
	return math.Ldexp(float64(e.agreeing), int(e.minLow)), e.agree, ok
}

// TaskSumsRef is Merger.TaskSums on the CPU: sum[c] = Σ δᵢ over the kept entries, in
// float64 in model order (package merge's task-vector sum with every weight 1), and
// count[c] the number of kept nonzero δᵢ.
func TaskSumsRef(sum []float64, count []uint32, xs [][]float32, base []float32, keep []tensor.Bound, lo int) {
	for c := range sum {
		var a float64
		var k uint32
		for i, x := range xs {
			v := x[c] - base[c]
			if !keep[i].Keep(int64(lo+c), tensor.AbsKey(v)) {
				v *= 0
			}
			if i == 0 {
				a = float64(v)
			} else {
				a += float64(v)
			}
			if v != 0 {
				k++
			}
		}
		sum[c], count[c] = a, k
	}
}

// TaskSumsExact is one element of TaskSums in integer arithmetic, under
// TiesSumsExact's conditions. An exact sum of 0 is +0: the caller adds it to the base,
// where its sign cannot show.
func TaskSumsExact(xs []uint32, b uint32, keep []tensor.Bound, idx int64) (sum float64, count uint32, ok bool) {
	e, ok := deltaSums(xs, b, keep, idx)
	return math.Ldexp(float64(e.all), int(e.minLow)), e.kept, ok
}

// exactSums are the integer sums of one element's kept deltas, in units of 2^minLow.
type exactSums struct {
	all, agreeing int64  // Σ kept δ; Σ of those with the elected sign
	kept, agree   uint32 // how many nonzero δ each sum holds
	minLow        int32
}

func deltaSums(xs []uint32, b uint32, keep []tensor.Bound, idx int64) (exactSums, bool) {
	var r exactSums
	if !SafeForSubtraction(b) {
		return r, false
	}
	minLow, maxTop := int32(1<<30), int32(-1<<30)
	for i, x := range xs {
		if !SafeForSubtraction(x) {
			return r, false
		}
		v := math.Float32bits(math.Float32frombits(x) - math.Float32frombits(b))
		k := v &^ (1 << 31)
		if k == 0 || !keep[i].Keep(idx, k) {
			continue
		}
		e := int32(k >> 23)
		sig := k&0x7fffff | 0x800000
		minLow = min(minLow, e-150+int32(bits.TrailingZeros32(sig)))
		maxTop = max(maxTop, e-127)
	}
	if maxTop == -1<<30 {
		return r, true // nothing kept but zeros
	}
	carries := int32(bits.Len32(uint32(len(xs) - 1)))
	if maxTop+1+carries-minLow > 53 {
		return r, false
	}
	r.minLow = minLow
	// term is δᵢ as an integer multiple of 2^minLow (0 when not kept).
	term := func(i int, x uint32) int64 {
		v := math.Float32bits(math.Float32frombits(x) - math.Float32frombits(b))
		k := v &^ (1 << 31)
		if k == 0 || !keep[i].Keep(idx, k) {
			return 0
		}
		e := int32(k >> 23)
		sig := k&0x7fffff | 0x800000
		tz := int32(bits.TrailingZeros32(sig))
		t := int64(sig>>uint32(tz)) << uint32(e-150+tz-minLow)
		if v>>31 == 1 {
			t = -t
		}
		return t
	}
	for i, x := range xs {
		if t := term(i, x); t != 0 {
			r.all += t
			r.kept++
		}
	}
	for i, x := range xs {
		if t := term(i, x); t != 0 && (t < 0) == (r.all < 0) {
			r.agreeing += t
			r.agree++
		}
	}
	return r, true
}
