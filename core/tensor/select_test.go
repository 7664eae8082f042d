package tensor

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// tiedSlice has many equal magnitudes (both signs, ±0) to exercise tie-breaking.
func tiedSlice(r *rand.Rand, n, levels int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.IntN(2*levels+1)-levels) * 0.125
		if x[i] == 0 && r.IntN(2) == 0 {
			x[i] = float32(math.Copysign(0, -1))
		}
	}
	return x
}

// naiveTop is the reference: a stable sort of the indices by descending |x|.
func naiveTop(x []float32, k int) map[int]bool {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return AbsKey(x[idx[a]]) > AbsKey(x[idx[b]]) })
	set := map[int]bool{}
	for _, i := range idx[:max(0, min(k, len(x)))] {
		set[i] = true
	}
	return set
}

func checkCut(t *testing.T, name string, x, base []float32, k int64, c Cut) {
	t.Helper()
	d := x
	if base != nil {
		d = make([]float32, len(x))
		for i := range x {
			d[i] = x[i] - base[i]
		}
	}
	want := naiveTop(d, int(k))
	b := c.Bound(x, base)
	got := 0
	for i, v := range d {
		keep := b.Keep(int64(i), AbsKey(v))
		if keep != want[i] {
			t.Fatalf("%s n=%d k=%d: element %d (%v) keep=%v want %v (cut %+v)", name, len(x), k, i, v, keep, want[i], c)
		}
		if keep {
			got++
		}
	}
	if got != len(want) {
		t.Fatalf("%s: kept %d want %d", name, got, len(want))
	}
}

func TestTopCutsAgainstSort(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, n := range []int{0, 1, 2, 7, 100, smallSelect, smallSelect + 1, 40000} {
		for _, levels := range []int{1, 3, 1000} {
			x := tiedSlice(r, n, levels)
			base := tiedSlice(r, n, levels)
			ks := []int64{-1, 0, 1, int64(n / 3), int64(n / 2), int64(n) - 1, int64(n), int64(n) + 5}
			cuts := TopCuts(x, nil, ks...)
			cutsB := TopCuts(x, base, ks...)
			for i, k := range ks {
				checkCut(t, "plain", x, nil, k, cuts[i])
				checkCut(t, "delta", x, base, k, cutsB[i])
			}
		}
	}
	// Random continuous values (almost no ties), larger than the sort path.
	x := randSlice(r, 70001)
	for _, k := range []int64{1, 1234, 35000, 70000} {
		checkCut(t, "normal", x, nil, k, TopCut(x, nil, k))
	}
}

func TestTopCutHandCases(t *testing.T) {
	x := []float32{1, -3, 3, 2, -3, 0}
	// Magnitudes 1 3 3 2 3 0: the two largest are the 3s at indices 1 and 2 (lower first).
	if got := TopIndices(x, 2); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Errorf("TopIndices k=2: %v", got)
	}
	if got := TopIndices(x, 4); got[3] != 3 {
		t.Errorf("TopIndices k=4: %v", got)
	}
	if got := TopIndices(x, 0); len(got) != 0 {
		t.Errorf("k=0 kept %v", got)
	}
	c := TopCut(x, nil, 2)
	if c.Key != AbsKey(3) || c.Eq != 2 {
		t.Errorf("cut %+v", c)
	}
	// NaN is the largest magnitude and is kept first.
	y := []float32{1, float32(math.NaN()), float32(math.Inf(-1))}
	if got := TopIndices(y, 2); got[0] != 1 || got[1] != 2 {
		t.Errorf("NaN/Inf order %v", got)
	}
}

func TestRankerOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	var rk Ranker
	for _, n := range []int{0, 1, 2, 31, 32, 33, 1000, 5000} {
		for _, levels := range []int{0, 2, 500} {
			x, base := tiedSlice(r, n, levels), tiedSlice(r, n, levels)
			for _, b := range [][]float32{nil, base} {
				d := x
				if b != nil {
					d = make([]float32, n)
					for i := range d {
						d[i] = x[i] - b[i]
					}
				}
				want := make([]int, n)
				for i := range want {
					want[i] = i
				}
				sort.SliceStable(want, func(a, c int) bool { return AbsKey(d[want[a]]) < AbsKey(d[want[c]]) })
				order := make([]uint32, n+3)
				rk.Order(x, b, order)
				for i := range want {
					if int(order[i]) != want[i] {
						t.Fatalf("n=%d levels=%d rank %d: index %d want %d", n, levels, i, order[i], want[i])
					}
				}
			}
		}
	}
}

func BenchmarkTopCut4M(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	x, base := randSlice(r, 4<<20), randSlice(r, 4<<20)
	b.SetBytes(8 << 22)
	for b.Loop() {
		TopCut(x, base, 1<<20).Bound(x, base)
	}
}

func BenchmarkRankerRows4096(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	x := randSlice(r, 4096)
	order := make([]uint32, 4096)
	var rk Ranker
	b.SetBytes(4 * 4096)
	for b.Loop() {
		rk.Order(x, nil, order)
	}
}
