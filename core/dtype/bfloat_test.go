package dtype

import (
	"math"
	"math/rand/v2"
	"testing"
)

var bf16Grid = newGrid(8, 7)

func TestBF16ToF32AllPatterns(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		got := BF16ToF32(h)
		want := refBF16(h)
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got)) || math.Float32bits(got) != uint32(h)<<16 {
				t.Errorf("BF16ToF32(%#04x) = %#08x, want NaN %#08x", h, math.Float32bits(got), uint32(h)<<16)
			}
			continue
		}
		if math.Float32bits(got) != math.Float32bits(float32(want)) || float64(got) != want {
			t.Errorf("BF16ToF32(%#04x) = %g, want %g", h, got, want)
		}
	}
}

func TestBF16RoundTripAllPatterns(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		f := BF16ToF32(h)
		got32, got64 := F32ToBF16(f), F64ToBF16(float64(f))
		if h&0x7f80 == 0x7f80 && h&0x7f != 0 {
			for _, got := range []uint16{got32, got64} {
				if got != h|0x40 {
					t.Errorf("BF16 NaN %#04x round trip = %#04x, want %#04x", h, got, h|0x40)
				}
			}
			continue
		}
		if got32 != h || got64 != h {
			t.Errorf("BF16 %#04x round trip = %#04x via float32, %#04x via float64", h, got32, got64)
		}
	}
}

func checkBF16(t *testing.T, f float32) {
	t.Helper()
	want := bf16Grid.round(float64(f), 15)
	for _, c := range []struct {
		name string
		got  uint16
	}{{"F32ToBF16", F32ToBF16(f)}, {"F64ToBF16", F64ToBF16(float64(f))}} {
		if want == ^uint64(0) {
			sign := uint16(0)
			if math.Signbit(float64(f)) {
				sign = 0x8000
			}
			if c.got&0x7fc0 != 0x7fc0 || c.got&0x8000 != sign {
				t.Errorf("%s(NaN %#08x) = %#04x, want a quiet NaN with the same sign", c.name, math.Float32bits(f), c.got)
			}
			continue
		}
		if uint64(c.got) != want {
			t.Errorf("%s(%g = %#08x) = %#04x, want %#04x", c.name, f, math.Float32bits(f), c.got, want)
		}
	}
}

func TestF32ToBF16RoundsToNearestEven(t *testing.T) {
	for _, v := range bf16Grid.vals[:len(bf16Grid.vals)-1] {
		checkBF16(t, float32(v))
		checkBF16(t, -float32(v))
	}
	// The last midpoint, 2^128 - 2^119, decides overflow; it is a float32.
	for _, m := range bf16Grid.midpoints() {
		f := float32(m)
		if float64(f) != m {
			t.Fatalf("midpoint %g is not exact in float32", m)
		}
		for _, g := range []float32{f, math.Nextafter32(f, 0), math.Nextafter32(f, float32(math.Inf(1)))} {
			checkBF16(t, g)
			checkBF16(t, -g)
		}
	}
	specials := []float32{
		0, float32(math.Copysign(0, -1)), math.MaxFloat32, -math.MaxFloat32,
		math.Float32frombits(0x7f7f7fff), math.Float32frombits(0x7f7f8000), math.Float32frombits(0x7f7f8001),
		math.SmallestNonzeroFloat32, math.Float32frombits(0x00008000), math.Float32frombits(0x00018000),
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		math.Float32frombits(0x7f800001), math.Float32frombits(0x7fffffff), math.Float32frombits(0xff80ffff),
	}
	for _, f := range specials {
		checkBF16(t, f)
	}
}

func TestF32ToBF16Specials(t *testing.T) {
	for _, c := range []struct {
		bits uint32
		want uint16
	}{
		{0x3f800000, 0x3f80},
		{0x3f808000, 0x3f80}, // tie, even stays
		{0x3f818000, 0x3f82}, // tie, odd rounds up
		{0x3f808001, 0x3f81},
		{0x7f7fffff, 0x7f80}, // MaxFloat32 is past the overflow midpoint
		{0x7f7f7fff, 0x7f7f},
		{0x7f800000, 0x7f80},
		{0x7f800001, 0x7fc0}, // NaNs whose payload sits in the low half must not become Inf
		{0x7f80ffff, 0x7fc0},
		{0xff800001, 0xffc0},
		{0x7fffffff, 0x7fff}, // nor wrap to zero
		{0x80000001, 0x8000},
	} {
		if got := F32ToBF16(math.Float32frombits(c.bits)); got != c.want {
			t.Errorf("F32ToBF16(%#08x) = %#04x, want %#04x", c.bits, got, c.want)
		}
	}
}

func TestF32ToBF16Random(t *testing.T) {
	n := 3 << 20
	if testing.Short() {
		n = 1 << 18
	}
	r := rand.New(rand.NewPCG(7, 8))
	for range n {
		checkBF16(t, math.Float32frombits(r.Uint32()))
	}
}

func TestF64ToBF16RoundsOnce(t *testing.T) {
	x := 1 + 0x1p-8 + 0x1p-40 // above the midpoint by less than a float32 ulp
	if got := F64ToBF16(x); got != 0x3f81 {
		t.Errorf("F64ToBF16(1+2^-8+2^-40) = %#04x, want 0x3f81", got)
	}
	r := rand.New(rand.NewPCG(9, 10))
	mids := bf16Grid.midpoints()
	for range 1 << 18 {
		m := mids[r.IntN(len(mids))]
		for _, x := range []float64{m, math.Nextafter(m, 0), math.Nextafter(m, math.Inf(1)), math.Float64frombits(r.Uint64())} {
			want := bf16Grid.round(x, 15)
			if got := F64ToBF16(x); want != ^uint64(0) && uint64(got) != want {
				t.Errorf("F64ToBF16(%.17g) = %#04x, want %#04x", x, got, want)
			}
		}
	}
}
