package compute

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestUnitSumExactMatchesFloat64 checks the integer kernel against the float64 path
// on hard values (zeros, ties, subnormals, NaN, Inf, wide ranges) and on weight-like
// data, for several model counts and scales: wherever it claims a result, the bits are
// the CPU's; and it declines little of weight-like data.
func TestUnitSumExactMatchesFloat64(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	scales := []struct{ div, mul float64 }{{3, 0}, {1, 0}, {2, 0}, {5, 0}, {7, 0}, {6, 0}, {65535, 0}, {0, 1}, {0, 0.5}, {0, 0.25}, {0, 0.125}}
	for _, sc := range scales {
		d, e, ok := ExactUnitSumMode(sc.div, sc.mul)
		if !ok {
			t.Fatalf("scale %+v: not an exact mode", sc)
		}
		for _, hard := range []bool{true, false} {
			claimed, total := 0, 0
			for iter := 0; iter < 20000; iter++ {
				n := 1 + r.IntN(9)
				xs := make([][]float32, n)
				bits := make([]uint32, n)
				for i := range xs {
					if hard {
						xs[i] = hardValues(r, 1)
					} else {
						xs[i] = []float32{float32(r.NormFloat64() * 0.05)}
					}
					bits[i] = math.Float32bits(xs[i][0])
				}
				want := make([]float32, 1)
				UnitSumRef(want, xs, sc.div, sc.mul)
				got, ok := UnitSumExact(bits, d, e)
				total++
				if !ok {
					continue
				}
				claimed++
				if got != math.Float32bits(want[0]) {
					t.Fatalf("scale %+v: inputs %v: got %#x (%v), want %#x (%v)", sc, xs, got, math.Float32frombits(got), math.Float32bits(want[0]), want[0])
				}
			}
			if !hard && claimed < total*99/100 {
				t.Errorf("scale %+v: only %d of %d weight-like sums claimed exact", sc, claimed, total)
			}
			if hard && claimed == 0 {
				t.Errorf("scale %+v: no hard sum claimed", sc)
			}
		}
	}
}

// TestUnitSumExactTies builds sums that land exactly halfway between two float32
// values, after the float64 rounding too, where double rounding and ties-to-even
// decide.
func TestUnitSumExactTies(t *testing.T) {
	for _, c := range [][]float32{
		{1, 0x1p-24}, {1, 0x1p-24, 0x1p-24}, {1 + 0x1p-23, 0x1p-24}, {-1, -0x1p-24},
		{3, 0x1p-22}, {1, 0x1p-23, -0x1p-24}, {0, float32(math.Copysign(0, -1))},
		{float32(math.Copysign(0, -1)), float32(math.Copysign(0, -1))}, {5, -5}, {1, 0x1p-29},
	} {
		bits := make([]uint32, len(c))
		xs := make([][]float32, len(c))
		for i, v := range c {
			bits[i], xs[i] = math.Float32bits(v), []float32{v}
		}
		for _, sc := range []struct{ div, mul float64 }{{3, 0}, {0, 1}, {0, 0.5}, {7, 0}} {
			d, e, _ := ExactUnitSumMode(sc.div, sc.mul)
			want := make([]float32, 1)
			UnitSumRef(want, xs, sc.div, sc.mul)
			got, ok := UnitSumExact(bits, d, e)
			if !ok || got != math.Float32bits(want[0]) {
				t.Errorf("%v scale %+v: got %#x ok=%v, want %#x", c, sc, got, ok, math.Float32bits(want[0]))
			}
		}
	}
}

func TestExactUnitSumMode(t *testing.T) {
	for _, c := range []struct {
		div, mul float64
		ok       bool
	}{{3, 0, true}, {0, 0.5, true}, {0, 1, true}, {2.5, 0, false}, {0, 1.0 / 3, false}, {70000, 0, false}, {0, 0x1p-200, false}} {
		if _, _, ok := ExactUnitSumMode(c.div, c.mul); ok != c.ok {
			t.Errorf("ExactUnitSumMode(%v, %v) ok = %v", c.div, c.mul, ok)
		}
	}
}

// FuzzUnitSumExact: wherever the integer kernel claims a result, it is the float64
// path's, for any three inputs and any supported scale.
func FuzzUnitSumExact(f *testing.F) {
	f.Add(uint32(0x3f800000), uint32(0x33800000), uint32(0), uint8(3), false)
	f.Add(uint32(0x80000000), uint32(0x80000000), uint32(0x7fc00000), uint8(1), true)
	f.Add(uint32(0x3d5c0690), uint32(0xbcf0a000), uint32(0x00000007), uint8(7), false)
	f.Fuzz(func(t *testing.T, a, b, c uint32, k uint8, mul bool) {
		div, m := float64(k%9+1), 0.0
		if mul {
			div, m = 0, math.Ldexp(1, -int(k%5))
		}
		d, e, ok := ExactUnitSumMode(div, m)
		if !ok {
			t.Skip()
		}
		in := []uint32{a, b, c}
		for n := 1; n <= 3; n++ {
			xs := make([][]float32, n)
			for i := range xs {
				xs[i] = []float32{math.Float32frombits(in[i])}
			}
			want := make([]float32, 1)
			UnitSumRef(want, xs, div, m)
			if got, ok := UnitSumExact(in[:n], d, e); ok && got != math.Float32bits(want[0]) {
				t.Fatalf("%#x ÷%v ×%v: got %#x, want %#x", in[:n], div, m, got, math.Float32bits(want[0]))
			}
		}
	})
}

// TestSafeForSubtraction: the difference of two safe values is zero or a finite
// normal number (what every IEEE implementation, flush-to-zero ones included,
// computes alike), at the edges of the safe range and at random.
func TestSafeForSubtraction(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	edges := []uint32{0, 1 << 31, 25 << 23, 25<<23 | 1, 25<<23 | 0x7fffff, 252<<23 | 0x7fffff, 1<<31 | 252<<23 | 0x7fffff}
	pick := func() uint32 {
		if r.IntN(3) == 0 {
			return edges[r.IntN(len(edges))]
		}
		return uint32(r.Uint64())
	}
	checked := 0
	for range 1_000_000 {
		a, b := pick(), pick()
		if !SafeForSubtraction(a) || !SafeForSubtraction(b) {
			continue
		}
		checked++
		d := math.Float32bits(math.Float32frombits(a) - math.Float32frombits(b))
		if e := d >> 23 & 0xff; (e == 0 && d&0x7fffffff != 0) || e == 0xff {
			t.Fatalf("%#x − %#x = %#x: subnormal or not finite", a, b, d)
		}
	}
	if checked < 10000 {
		t.Fatalf("only %d safe pairs", checked)
	}
	for _, bad := range []uint32{1, 24 << 23, 253 << 23, 0x7f800000, 0x7fc00000} {
		if SafeForSubtraction(bad) {
			t.Errorf("%#x counted safe", bad)
		}
	}
}
