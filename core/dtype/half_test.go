package dtype

import (
	"math"
	"math/rand/v2"
	"testing"
)

var f16Grid = newGrid(5, 10)

func TestF16ToF32AllPatterns(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		got := F16ToF32(h)
		want := refF16(h)
		if math.IsNaN(want) {
			// Payload and sign survive widening.
			wantBits := uint32(h&0x8000)<<16 | 0x7f800000 | uint32(h&0x3ff)<<13
			if !math.IsNaN(float64(got)) || math.Float32bits(got) != wantBits {
				t.Errorf("F16ToF32(%#04x) = %#08x, want NaN %#08x", h, math.Float32bits(got), wantBits)
			}
			continue
		}
		if math.Float32bits(got) != math.Float32bits(float32(want)) || float64(got) != want {
			t.Errorf("F16ToF32(%#04x) = %g (%#08x), want %g", h, got, math.Float32bits(got), want)
		}
	}
}

func TestF16RoundTripAllPatterns(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		f := F16ToF32(h)
		got32, got64 := F32ToF16(f), F64ToF16(float64(f))
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
			// A NaN comes back a quiet NaN with its sign and payload.
			for _, got := range []uint16{got32, got64} {
				if got != h|0x200 {
					t.Errorf("F16 NaN %#04x round trip = %#04x, want %#04x", h, got, h|0x200)
				}
			}
			continue
		}
		if got32 != h || got64 != h {
			t.Errorf("F16 %#04x round trip = %#04x via float32, %#04x via float64", h, got32, got64)
		}
	}
}

// checkF16 compares F32ToF16 and F64ToF16 with the enumeration reference.
func checkF16(t *testing.T, f float32) {
	t.Helper()
	want := f16Grid.round(float64(f), 15)
	for _, c := range []struct {
		name string
		got  uint16
	}{{"F32ToF16", F32ToF16(f)}, {"F64ToF16", F64ToF16(float64(f))}} {
		if want == ^uint64(0) {
			sign := uint16(0)
			if math.Signbit(float64(f)) {
				sign = 0x8000
			}
			if c.got&0x7e00 != 0x7e00 || c.got&0x8000 != sign {
				t.Errorf("%s(NaN %#08x) = %#04x, want a quiet NaN with the same sign", c.name, math.Float32bits(f), c.got)
			}
			continue
		}
		if uint64(c.got) != want {
			t.Errorf("%s(%g = %#08x) = %#04x, want %#04x", c.name, f, math.Float32bits(f), c.got, want)
		}
	}
}

func TestF32ToF16RoundsToNearestEven(t *testing.T) {
	// Every value, both signs.
	for _, v := range f16Grid.vals {
		checkF16(t, float32(v))
		checkF16(t, -float32(v))
	}
	// Every midpoint, where ties to even decide, and one float32 ulp either
	// side, where they must not. Midpoints have 12 significant bits, so they
	// are exact in float32.
	for _, m := range f16Grid.midpoints() {
		f := float32(m)
		if float64(f) != m {
			t.Fatalf("midpoint %g is not exact in float32", m)
		}
		for _, g := range []float32{f, math.Nextafter32(f, 0), math.Nextafter32(f, float32(math.Inf(1)))} {
			checkF16(t, g)
			checkF16(t, -g)
		}
	}
	specials := []float32{
		0, float32(math.Copysign(0, -1)),
		65504, 65519.99, 65520, 65536, -65520, math.MaxFloat32, -math.MaxFloat32,
		0x1p-24, 0x1p-25, 0x1.000002p-25, 0x1.8p-24, 0x1p-26, 0x1p-14, 0x1.ffcp-15, 0x1.ffep-15,
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32,
		float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), math.Float32frombits(0x7f800001), math.Float32frombits(0xffc00000),
		math.Float32frombits(0x7fbfffff), math.Float32frombits(0xff801fff),
	}
	for _, f := range specials {
		checkF16(t, f)
	}
}

func TestF32ToF16Specials(t *testing.T) {
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{65504, 0x7bff},
		{65519.99, 0x7bff},
		{65520, 0x7c00}, // the tie between 65504 (odd) and 2^16 goes up to Inf
		{-65520, 0xfc00},
		{0x1p-24, 0x0001},
		{0x1p-25, 0x0000}, // half the smallest subnormal ties to zero
		{-0x1p-25, 0x8000},
		{0x1.000002p-25, 0x0001},
		{0x1.8p-24, 0x0002}, // 1.5 steps ties to even 2
		{float32(math.Copysign(0, -1)), 0x8000},
		{float32(math.Inf(-1)), 0xfc00},
		{math.Float32frombits(0x7f800001), 0x7e00}, // a signalling NaN with a low payload stays NaN
		{math.Float32frombits(0xff800001), 0xfe00},
	} {
		if got := F32ToF16(c.f); got != c.want {
			t.Errorf("F32ToF16(%g) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
}

func TestF32ToF16Random(t *testing.T) {
	n := 3 << 20
	if testing.Short() {
		n = 1 << 18
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range n {
		// Half uniform bit patterns, half biased into binary16's range, where
		// uniform patterns rarely land.
		b := r.Uint32()
		if b&1 == 0 {
			b = b&0x807fffff | (100+r.Uint32N(46))<<23
		}
		checkF16(t, math.Float32frombits(b))
	}
}

// checkF64ToF16 compares F64ToF16 with the reference on a float64 input.
func checkF64ToF16(t *testing.T, x float64) {
	t.Helper()
	want := f16Grid.round(x, 15)
	if got := F64ToF16(x); want != ^uint64(0) && uint64(got) != want {
		t.Errorf("F64ToF16(%.17g) = %#04x, want %#04x", x, got, want)
	}
}

func TestF64ToF16RoundsOnce(t *testing.T) {
	// Just above a midpoint by less than a float32 ulp: float32(x) would land
	// on the midpoint and then tie to even, the wrong way.
	x := 1 + 0x1p-11 + 0x1p-40
	if got := F64ToF16(x); got != 0x3c01 {
		t.Errorf("F64ToF16(1+2^-11+2^-40) = %#04x, want 0x3c01", got)
	}
	if got := F32ToF16(float32(x)); got != 0x3c00 {
		t.Errorf("through float32 the same value is %#04x; the test no longer shows double rounding", got)
	}
	r := rand.New(rand.NewPCG(3, 4))
	mids := f16Grid.midpoints()
	n := 1 << 20
	if testing.Short() {
		n = 1 << 16
	}
	for range n {
		m := mids[r.IntN(len(mids))]
		checkF64ToF16(t, m)
		checkF64ToF16(t, math.Nextafter(m, 0))
		checkF64ToF16(t, math.Nextafter(m, math.Inf(1)))
		checkF64ToF16(t, -m*(1+r.Float64()*0x1p-30))
		checkF64ToF16(t, math.Float64frombits(r.Uint64()))
	}
	for _, x := range []float64{0x1p-1074, 0x1p-1022, 0x1p-25, 0x1.0000000000001p-25, math.MaxFloat64, math.Inf(1)} {
		checkF64ToF16(t, x)
		checkF64ToF16(t, -x)
	}
}

// TestNarrowMatchesFloat32 holds the shared float64 narrowing routine to the
// hardware's own float64→float32 conversion, an independent implementation of
// the same rounding.
func TestNarrowMatchesFloat32(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 1 << 20 {
		x := math.Float64frombits(r.Uint64())
		if r.IntN(2) == 0 {
			x = math.Ldexp(r.Float64(), 120-r.IntN(280)) // near float32's range, subnormals included
		}
		want := math.Float32bits(float32(x))
		got := uint32(narrow(x, 8, 23))
		if math.IsNaN(x) {
			if got&0x7fc00000 != 0x7fc00000 {
				t.Errorf("narrow(NaN %#x) = %#08x, want a quiet NaN", math.Float64bits(x), got)
			}
			continue
		}
		if got != want {
			t.Errorf("narrow(%.17g, 8, 23) = %#08x, float32 gives %#08x", x, got, want)
		}
	}
}
