package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randSlice(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// naiveBlockDot restates the documented order with plain loops: lanes by position
// inside blocks of Block, (l0+l1)+(l2+l3), block partials added in order.
func naiveBlockDot(x, y []float32) float64 {
	total := 0.0
	for lo := 0; lo < len(x); lo += Block {
		var l [4]float64
		for j := lo; j < min(lo+Block, len(x)); j++ {
			l[(j-lo)%4] += float64(x[j]) * float64(y[j])
		}
		total += (l[0] + l[1]) + (l[2] + l[3])
	}
	return total
}

func TestReductionsMatchDocumentedOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 3, 4, 5, 7, 8, 4095, 4096, 4097, 3*4096 + 3, 50000} {
		x, y := randSlice(r, n), randSlice(r, n)
		if got, want := Dot(x, y), naiveBlockDot(x, y); got != want {
			t.Errorf("n=%d Dot=%v want %v", n, got, want)
		}
		if got, want := SumSq(x), naiveBlockDot(x, x); got != want {
			t.Errorf("n=%d SumSq=%v want %v", n, got, want)
		}
		ones := make([]float32, n)
		for i := range ones {
			ones[i] = 1
		}
		if got, want := Sum(x), naiveBlockDot(x, ones); got != want {
			t.Errorf("n=%d Sum=%v want %v", n, got, want)
		}
		if got, want := Norm(x), math.Sqrt(SumSq(x)); got != want {
			t.Errorf("n=%d Norm=%v want %v", n, got, want)
		}
		// Accuracy against a plain float64 loop.
		plain := 0.0
		for i := range x {
			plain += float64(x[i]) * float64(y[i])
		}
		if math.Abs(plain-Dot(x, y)) > 1e-9*(1+math.Abs(plain)) {
			t.Errorf("n=%d Dot=%v far from plain %v", n, Dot(x, y), plain)
		}
	}
}

func TestBlockReduceIndependentOfWorkers(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x, y := randSlice(r, 123457), randSlice(r, 123457)
	f := func(lo, hi int) float64 { return dotBlock(x[lo:hi], y[lo:hi]) }
	want := Dot(x, y)
	for _, w := range []int{0, 1, 2, 3, 8, 64} {
		if got := BlockReduce(len(x), w, f); got != want {
			t.Errorf("workers=%d: %v != %v", w, got, want)
		}
	}
}

// A golden value locks the reduction order: a change to Block or the lane scheme
// changes these bits, which would change every merge that uses a reduction.
func TestReductionGolden(t *testing.T) {
	n := 10007
	x, y := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = 1 / (float32(i%97) + 0.3)
		y[i] = float32(i%89)*1.37 - 44.3
	}
	got := math.Float64bits(Dot(x, y))
	const want = 0x40c869c28b487970 // a plain sequential loop gives ...992
	if got != want {
		t.Errorf("golden Dot bits %#x, want %#x (value %v)", got, uint64(want), Dot(x, y))
	}
}

func TestGramDiffMatchesDot(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 5, 4096, 9000} {
		base := randSlice(r, n)
		xs := [][]float32{randSlice(r, n), randSlice(r, n), randSlice(r, n)}
		ds := make([][]float32, len(xs))
		for i, x := range xs {
			ds[i] = make([]float32, n)
			for k := range x {
				ds[i][k] = x[k] - base[k]
			}
		}
		g := make([]float64, 9)
		GramDiff(xs, base, 0, n, g, nil)
		g2 := make([]float64, 9)
		GramDiff(ds, nil, 0, n, g2, nil)
		for i := range xs {
			for j := range xs {
				want := Dot(ds[i], ds[j])
				if i == j {
					want = SumSq(ds[i])
				}
				if g[i*3+j] != want || g2[i*3+j] != want {
					t.Errorf("n=%d g[%d,%d]=%v,%v want %v", n, i, j, g[i*3+j], g2[i*3+j], want)
				}
			}
		}
	}
}

func TestNumelAndRows(t *testing.T) {
	if n, err := Numel(nil); err != nil || n != 1 {
		t.Errorf("scalar: %d %v", n, err)
	}
	if n, err := Numel([]int64{3, 4, 5}); err != nil || n != 60 {
		t.Errorf("3x4x5: %d %v", n, err)
	}
	if _, err := Numel([]int64{-1, 2}); err == nil {
		t.Error("negative dimension accepted")
	}
	if _, err := Numel([]int64{1 << 32, 1 << 32}); err == nil {
		t.Error("overflow accepted")
	}
	if rows, l := Rows([]int64{4, 3, 2}, 24); rows != 4 || l != 6 {
		t.Errorf("rows %d %d", rows, l)
	}
	if rows, l := Rows([]int64{7}, 7); rows != 1 || l != 7 {
		t.Errorf("1-D rows %d %d", rows, l)
	}
	if rows, l := Rows([]int64{0, 5}, 0); rows != 0 || l != 0 {
		t.Errorf("empty rows %d %d", rows, l)
	}
}

func BenchmarkDot(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x, y := randSlice(r, 1<<22), randSlice(r, 1<<22)
	b.SetBytes(8 << 22)
	for b.Loop() {
		Dot(x, y)
	}
}
