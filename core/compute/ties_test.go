package compute

import (
	"math"
	"math/rand/v2"
	"testing"

	"ladle/core/tensor"
)

// randomBounds returns a keep bound per model: keep all, keep nothing, or a key from
// the deltas themselves with a random last index (so equal keys split at it).
func randomBounds(r *rand.Rand, xs [][]float32, base []float32) []tensor.Bound {
	out := make([]tensor.Bound, len(xs))
	for i, x := range xs {
		switch r.IntN(4) {
		case 0:
			out[i] = tensor.Bound{Key: 0, Last: math.MaxInt64}
		case 1:
			out[i] = tensor.Bound{Key: math.MaxUint32, Last: -1}
		default:
			c := r.IntN(len(x))
			out[i] = tensor.Bound{Key: tensor.AbsKey(x[c] - base[c]), Last: int64(r.IntN(len(x)+1)) - 1}
		}
	}
	return out
}

// TestTiesSumsExactMatchesFloat64: wherever the integer kernel claims a result, it is
// the float64 path's (mixed bit for bit, the task-vector sum by value, the same
// counts), on hard values (zeros, ties,
// subnormals, NaN, Inf, wide ranges), on values with many equal magnitudes and on
// weight-like data, of which it declines almost nothing.
func TestTiesSumsExactMatchesFloat64(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 3))
	for _, kind := range []string{"hard", "equal", "weights"} {
		claimed, total := 0, 0
		for iter := 0; iter < 3000; iter++ {
			models, n := 1+r.IntN(9), 1+r.IntN(16)
			gen := func() []float32 {
				v := make([]float32, n)
				for c := range v {
					switch kind {
					case "hard":
						v[c] = hardValues(r, 1)[0]
					case "equal":
						v[c] = float32(r.IntN(7)-3) / 64 // many ties, zeros and opposite signs
					default:
						v[c] = float32(r.NormFloat64() * 0.05)
					}
				}
				return v
			}
			base := gen()
			xs := make([][]float32, models)
			for i := range xs {
				xs[i] = gen()
			}
			keep := randomBounds(r, xs, base)
			lo := r.IntN(3)
			for i := range keep { // bounds are tensor indices: shift them by lo
				if keep[i].Last >= 0 && keep[i].Last < math.MaxInt64 {
					keep[i].Last += int64(lo)
				}
			}
			wantM, wantK := make([]float64, n), make([]uint32, n)
			TiesSumsRef(wantM, wantK, xs, base, keep, lo)
			wantS, wantSK := make([]float64, n), make([]uint32, n)
			TaskSumsRef(wantS, wantSK, xs, base, keep, lo)
			in := make([]uint32, models)
			for c := range n {
				for i, x := range xs {
					in[i] = math.Float32bits(x[c])
				}
				ts, tk, tok := TaskSumsExact(in, math.Float32bits(base[c]), keep, int64(lo+c))
				if tok && (ts != wantS[c] || tk != wantSK[c]) { // +0 may stand for −0
					t.Fatalf("%s: task sum of element %d of models %v, base %v, keep %v: got %v (%d), want %v (%d)", kind, c, col(xs, c), base[c], keep, ts, tk, wantS[c], wantSK[c])
				}
				m, k, ok := TiesSumsExact(in, math.Float32bits(base[c]), keep, int64(lo+c))
				if ok != tok {
					t.Fatalf("%s: element %d: TIES and task sums disagree on exactness", kind, c)
				}
				total++
				if !ok {
					continue
				}
				claimed++
				if math.Float64bits(m) != math.Float64bits(wantM[c]) || k != wantK[c] {
					t.Fatalf("%s: element %d of models %v, base %v, keep %v: got %v (%d), want %v (%d)", kind, c, col(xs, c), base[c], keep, m, k, wantM[c], wantK[c])
				}
			}
		}
		if kind != "hard" && claimed < total*99/100 {
			t.Errorf("%s: only %d of %d elements claimed exact", kind, claimed, total)
		}
		if claimed == 0 {
			t.Errorf("%s: nothing claimed", kind)
		}
		t.Logf("%s: %d of %d elements exact", kind, claimed, total)
	}
}

func col(xs [][]float32, c int) []float32 {
	var out []float32
	for _, x := range xs {
		out = append(out, x[c])
	}
	return out
}

// FuzzTiesSumsExact: for any three models' values and base, and keep bounds from the
// fuzzer, wherever the integer form claims a result it is the float64 path's (TIES'
// mixed sum bit for bit, the task-vector sum by value, the counts).
func FuzzTiesSumsExact(f *testing.F) {
	f.Add(uint32(0x3f800000), uint32(0xbf800000), uint32(0x3f000000), uint32(0x3e800000), uint32(0), int8(3), uint8(1))
	f.Add(uint32(0x80000000), uint32(0x00000000), uint32(0x7fc00000), uint32(0), uint32(0x3c000000), int8(-1), uint8(2))
	f.Add(uint32(0x3d5c0690), uint32(0xbcf0a000), uint32(0x0c800007), uint32(0x3d5c0690), uint32(0x3d000000), int8(0), uint8(0))
	f.Fuzz(func(t *testing.T, a, b, c, base, key uint32, last int8, which uint8) {
		in := []uint32{a, b, c}
		xs := make([][]float32, 3)
		for i := range xs {
			xs[i] = []float32{math.Float32frombits(in[i])}
		}
		bs := []float32{math.Float32frombits(base)}
		keep := make([]tensor.Bound, 3)
		for i := range keep {
			keep[i] = tensor.Bound{Key: 0, Last: math.MaxInt64}
			if which>>i&1 == 1 {
				keep[i] = tensor.Bound{Key: key &^ (1 << 31), Last: int64(last)}
			}
		}
		for n := 1; n <= 3; n++ {
			wm, wk := make([]float64, 1), make([]uint32, 1)
			TiesSumsRef(wm, wk, xs[:n], bs, keep[:n], 0)
			if m, k, ok := TiesSumsExact(in[:n], base, keep[:n], 0); ok && (math.Float64bits(m) != math.Float64bits(wm[0]) || k != wk[0]) {
				t.Fatalf("ties %#x − %#x, keep %v: got %v (%d), want %v (%d)", in[:n], base, keep[:n], m, k, wm[0], wk[0])
			}
			TaskSumsRef(wm, wk, xs[:n], bs, keep[:n], 0)
			if s, k, ok := TaskSumsExact(in[:n], base, keep[:n], 0); ok && (s != wm[0] || k != wk[0]) {
				t.Fatalf("task %#x − %#x, keep %v: got %v (%d), want %v (%d)", in[:n], base, keep[:n], s, k, wm[0], wk[0])
			}
		}
	})
}
