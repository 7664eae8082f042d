package dtype

import (
	"math"
	"testing"
)

func TestF8E4M3AllPatterns(t *testing.T) {
	for i := range 256 {
		b := uint8(i)
		got := F8E4M3ToF32(b)
		want := refE4M3(b)
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got)) || math.Signbit(float64(got)) != (b&0x80 != 0) {
				t.Errorf("F8E4M3ToF32(%#02x) = %g, want NaN with sign %v", b, got, b&0x80 != 0)
			}
			continue
		}
		if math.Float32bits(got) != math.Float32bits(float32(want)) {
			t.Errorf("F8E4M3ToF32(%#02x) = %g, want %g", b, got, want)
		}
		if e4m3Table[b] != got {
			t.Errorf("e4m3Table[%#02x] = %g, want %g", b, e4m3Table[b], got)
		}
	}
	// Landmarks of float8_e4m3fn, as PyTorch documents them.
	for _, c := range []struct {
		b    uint8
		want float32
	}{{0x7e, 448}, {0xfe, -448}, {0x38, 1}, {0x08, 0x1p-6}, {0x01, 0x1p-9}, {0x07, 0x1.cp-7}, {0x78, 256}} {
		if got := F8E4M3ToF32(c.b); got != c.want {
			t.Errorf("F8E4M3ToF32(%#02x) = %g, want %g", c.b, got, c.want)
		}
	}
	// Only the two all-ones patterns are NaN; 0x78..0x7e are finite, no Inf.
	for i := range 256 {
		f := F8E4M3ToF32(uint8(i))
		if math.IsInf(float64(f), 0) {
			t.Errorf("F8E4M3ToF32(%#02x) = %g; float8_e4m3fn has no infinities", i, f)
		}
	}
}

func TestF8E5M2AllPatterns(t *testing.T) {
	for i := range 256 {
		b := uint8(i)
		got := F8E5M2ToF32(b)
		want := refIEEE(uint64(b), 5, 2)
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got)) {
				t.Errorf("F8E5M2ToF32(%#02x) = %g, want NaN", b, got)
			}
			continue
		}
		if math.Float32bits(got) != math.Float32bits(float32(want)) {
			t.Errorf("F8E5M2ToF32(%#02x) = %g, want %g", b, got, want)
		}
		if e5m2Table[b] != got {
			t.Errorf("e5m2Table[%#02x] = %g, want %g", b, e5m2Table[b], got)
		}
	}
	for _, c := range []struct {
		b    uint8
		want float32
	}{{0x7b, 57344}, {0x3c, 1}, {0x01, 0x1p-16}, {0x04, 0x1p-14}, {0x7c, float32(math.Inf(1))}, {0xfc, float32(math.Inf(-1))}} {
		if got := F8E5M2ToF32(c.b); got != c.want {
			t.Errorf("F8E5M2ToF32(%#02x) = %g, want %g", c.b, got, c.want)
		}
	}
}
