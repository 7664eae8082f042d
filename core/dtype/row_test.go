package dtype

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// eachPath runs f once for every way a row can be processed: viewed in place
// (aligned, little-endian host), staged because it is misaligned, and through
// the byte-order-independent fallback that big-endian hosts take.
// place copies src to a fresh buffer at the alignment under test.
func eachPath(t *testing.T, f func(t *testing.T, place func(src []byte) []byte)) {
	for _, p := range []struct {
		name     string
		little   bool
		misalign bool
	}{{"view", true, false}, {"misaligned", true, true}, {"portable", false, false}, {"portable-misaligned", false, true}} {
		t.Run(p.name, func(t *testing.T) {
			saved := hostLittle
			hostLittle = p.little && saved
			defer func() { hostLittle = saved }()
			f(t, func(src []byte) []byte {
				// Start the row 8-aligned, or 1 byte past that.
				off := 0
				if p.misalign {
					off = 1
				}
				buf := make([]byte, len(src)+16)
				k := int((8-uintptrOf(buf)%8)%8) + off
				row := buf[k : k+len(src)]
				copy(row, src)
				if uintptrOf(buf[k:])%8 != uintptr(off) {
					t.Fatalf("row placed at %#x, want offset %d from 8-alignment", uintptrOf(buf[k:]), off)
				}
				return row
			})
		})
	}
}

type decodeCase struct {
	d    DType
	src  []byte
	want []float64 // exact values for DecodeF64
	f32  []float32 // values for DecodeF32, where they differ from float32(want)
}

func le16(v ...uint16) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint16(b, x)
	}
	return b
}

func le32(v ...uint32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, x)
	}
	return b
}

func le64(v ...uint64) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, x)
	}
	return b
}

func decodeCases() []decodeCase {
	negZero := math.Copysign(0, -1)
	inf := math.Inf(1)
	i64 := func(v int64) uint64 { return uint64(v) }
	i32 := func(v int32) uint32 { return uint32(v) }
	i16 := func(v int16) uint16 { return uint16(v) }
	return []decodeCase{
		{F64, le64(math.Float64bits(1.5), math.Float64bits(-2.25), math.Float64bits(negZero), math.Float64bits(math.MaxFloat64), math.Float64bits(1+0x1p-30)),
			[]float64{1.5, -2.25, negZero, math.MaxFloat64, 1 + 0x1p-30},
			[]float32{1.5, -2.25, float32(negZero), float32(inf), 1}},
		{F32, []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0x80, 0x01, 0, 0, 0, 0xff, 0xff, 0x7f, 0x7f},
			[]float64{1, negZero, 0x1p-149, math.MaxFloat32}, nil},
		{F16, []byte{0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00, 0x00, 0x80, 0x00, 0xfc, 0x55, 0x35},
			[]float64{1, -2, 65504, 0x1p-24, negZero, -inf, 0x1.554p-2}, nil},
		{BF16, []byte{0x80, 0x3f, 0x40, 0xc0, 0x7f, 0x7f, 0x01, 0x00, 0x80, 0x7f},
			[]float64{1, -3, 0x1.fep127, 0x1p-133, inf}, nil},
		{F8_E4M3, []byte{0x38, 0xb8, 0x7e, 0x01, 0x80, 0x00},
			[]float64{1, -1, 448, 0x1p-9, negZero, 0}, nil},
		{F8_E5M2, []byte{0x3c, 0xc0, 0x7b, 0x01, 0x7c, 0xfc},
			[]float64{1, -2, 57344, 0x1p-16, inf, -inf}, nil},
		{I64, le64(i64(-1), i64(math.MinInt64), i64(math.MaxInt64), 1<<53+1, i64(-(1<<24 + 1))),
			[]float64{-1, math.MinInt64, 0x1p63, 0x1p53, -(1<<24 + 1)},
			[]float32{-1, -0x1p63, 0x1p63, 0x1p53, -(1 << 24)}},
		{I32, le32(i32(-1), i32(math.MinInt32), i32(math.MaxInt32), 1<<24+1, 1<<24+3),
			[]float64{-1, math.MinInt32, math.MaxInt32, 1<<24 + 1, 1<<24 + 3},
			[]float32{-1, math.MinInt32, 0x1p31, 1 << 24, 1<<24 + 4}},
		{I16, le16(i16(-1), i16(math.MinInt16), math.MaxInt16, 7),
			[]float64{-1, math.MinInt16, math.MaxInt16, 7}, nil},
		{I8, []byte{0xff, 0x80, 0x7f, 0},
			[]float64{-1, -128, 127, 0}, nil},
		{U64, le64(math.MaxUint64, 0, 1<<53+1, 12345),
			[]float64{0x1p64, 0, 0x1p53, 12345},
			[]float32{0x1p64, 0, 0x1p53, 12345}},
		{U32, le32(math.MaxUint32, 0, 1<<24+1),
			[]float64{math.MaxUint32, 0, 1<<24 + 1},
			[]float32{0x1p32, 0, 1 << 24}},
		{U16, le16(math.MaxUint16, 0, 256),
			[]float64{65535, 0, 256}, nil},
		{U8, []byte{255, 0, 1, 128},
			[]float64{255, 0, 1, 128}, nil},
		{BOOL, []byte{0, 1, 2, 255},
			[]float64{0, 1, 1, 1}, nil},
	}
}

func sameBits32(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }
func sameBits64(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }

func TestDecodeEveryDType(t *testing.T) {
	cases := decodeCases()
	covered := map[DType]bool{}
	for _, c := range cases {
		covered[c.d] = true
		want32 := c.f32
		if want32 == nil {
			for _, v := range c.want {
				want32 = append(want32, float32(v))
			}
		}
		t.Run(c.d.String(), func(t *testing.T) {
			eachPath(t, func(t *testing.T, place func([]byte) []byte) {
				src := place(c.src)
				got64 := make([]float64, len(c.want))
				if err := DecodeF64(got64, src, c.d); err != nil {
					t.Fatal(err)
				}
				if !slices.EqualFunc(got64, c.want, sameBits64) {
					t.Errorf("DecodeF64 = %v, want %v", got64, c.want)
				}
				got32 := make([]float32, len(c.want))
				if err := DecodeF32(got32, src, c.d); err != nil {
					t.Fatal(err)
				}
				if !slices.EqualFunc(got32, want32, sameBits32) {
					t.Errorf("DecodeF32 = %v, want %v", got32, want32)
				}
			})
		})
	}
	for _, d := range All {
		if !covered[d] {
			t.Errorf("no decode case for %v", d)
		}
	}
}

func TestDecodeNaN(t *testing.T) {
	for _, c := range []struct {
		d   DType
		src []byte
	}{
		{F64, le64(math.Float64bits(math.NaN()))},
		{F32, le32(0x7fc00000)},
		{F16, le16(0x7e00)},
		{BF16, le16(0xffc1)},
		{F8_E4M3, []byte{0x7f}},
		{F8_E5M2, []byte{0xfd}},
	} {
		var f32 [1]float32
		var f64 [1]float64
		if err := DecodeF32(f32[:], c.src, c.d); err != nil || !math.IsNaN(float64(f32[0])) {
			t.Errorf("DecodeF32 of a %v NaN = %v, %v", c.d, f32[0], err)
		}
		if err := DecodeF64(f64[:], c.src, c.d); err != nil || !math.IsNaN(f64[0]) {
			t.Errorf("DecodeF64 of a %v NaN = %v, %v", c.d, f64[0], err)
		}
	}
}

// TestRowsMatchScalars decodes and encodes rows longer than the staging buffer,
// on every path, and holds them to the scalar conversions.
func TestRowsMatchScalars(t *testing.T) {
	const n = 3*stage + 7
	r := rand.New(rand.NewPCG(11, 12))
	raw := make([]byte, 8*n)
	for i := range raw {
		raw[i] = byte(r.Uint32())
	}
	floats := make([]float32, n)
	doubles := make([]float64, n)
	for i := range floats {
		floats[i] = float32(r.NormFloat64() * 0.02)
		doubles[i] = r.NormFloat64() * math.Ldexp(1, r.IntN(40)-20)
	}
	floats[5] = float32(math.NaN())
	doubles[6] = math.Inf(-1)

	eachPath(t, func(t *testing.T, place func([]byte) []byte) {
		for _, d := range All {
			src := place(raw[:n*d.Size()])
			got32 := make([]float32, n)
			got64 := make([]float64, n)
			if err := DecodeF32(got32, src, d); err != nil {
				t.Fatal(err)
			}
			if err := DecodeF64(got64, src, d); err != nil {
				t.Fatal(err)
			}
			for i := range n {
				w64 := scalarDecode(src[i*d.Size():], d)
				if !sameBits64(got64[i], w64) && !(math.IsNaN(got64[i]) && math.IsNaN(w64)) {
					t.Fatalf("DecodeF64 %v [%d] = %v, want %v", d, i, got64[i], w64)
				}
				w32 := float32(w64)
				if d == I64 || d == U64 || d == I32 || d == U32 {
					w32 = scalarDecodeF32Int(src[i*d.Size():], d)
				}
				if !sameBits32(got32[i], w32) && !(math.IsNaN(float64(got32[i])) && math.IsNaN(float64(w32))) {
					t.Fatalf("DecodeF32 %v [%d] = %v, want %v", d, i, got32[i], w32)
				}
			}
		}
		for _, d := range []DType{F64, F32, F16, BF16} {
			dst := place(make([]byte, n*d.Size()))
			if err := EncodeF32(dst, floats, d); err != nil {
				t.Fatal(err)
			}
			want := scalarEncode(floats, nil, d)
			if !slices.Equal(dst, want) {
				t.Errorf("EncodeF32 to %v differs from the scalar conversions", d)
			}
			if err := EncodeF64(dst, doubles, d); err != nil {
				t.Fatal(err)
			}
			want = scalarEncode(nil, doubles, d)
			if !slices.Equal(dst, want) {
				t.Errorf("EncodeF64 to %v differs from the scalar conversions", d)
			}
		}
	})
}

// scalarDecode decodes one element at the start of b with the scalar functions
// and explicit little-endian reads.
func scalarDecode(b []byte, d DType) float64 {
	switch d {
	case F64:
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	case F32:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
	case F16:
		return float64(F16ToF32(binary.LittleEndian.Uint16(b)))
	case BF16:
		return float64(BF16ToF32(binary.LittleEndian.Uint16(b)))
	case F8_E4M3:
		return float64(F8E4M3ToF32(b[0]))
	case F8_E5M2:
		return float64(F8E5M2ToF32(b[0]))
	case I64:
		return float64(int64(binary.LittleEndian.Uint64(b)))
	case I32:
		return float64(int32(binary.LittleEndian.Uint32(b)))
	case I16:
		return float64(int16(binary.LittleEndian.Uint16(b)))
	case I8:
		return float64(int8(b[0]))
	case U64:
		return float64(binary.LittleEndian.Uint64(b))
	case U32:
		return float64(binary.LittleEndian.Uint32(b))
	case U16:
		return float64(binary.LittleEndian.Uint16(b))
	case U8:
		return float64(b[0])
	case BOOL:
		if b[0] != 0 {
			return 1
		}
		return 0
	}
	panic("unreachable")
}

// scalarDecodeF32Int converts wide integers straight to float32, as Go does,
// since going through float64 could round twice.
func scalarDecodeF32Int(b []byte, d DType) float32 {
	switch d {
	case I64:
		return float32(int64(binary.LittleEndian.Uint64(b)))
	case U64:
		return float32(binary.LittleEndian.Uint64(b))
	case I32:
		return float32(int32(binary.LittleEndian.Uint32(b)))
	}
	return float32(binary.LittleEndian.Uint32(b))
}

func scalarEncode(f []float32, x []float64, d DType) []byte {
	var b []byte
	n := max(len(f), len(x))
	for i := range n {
		var v float64
		if f != nil {
			v = float64(f[i])
		} else {
			v = x[i]
		}
		switch d {
		case F64:
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		case F32:
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(v)))
		case F16:
			h := F64ToF16(v)
			if f != nil {
				h = F32ToF16(f[i])
			}
			b = binary.LittleEndian.AppendUint16(b, h)
		case BF16:
			h := F64ToBF16(v)
			if f != nil {
				h = F32ToBF16(f[i])
			}
			b = binary.LittleEndian.AppendUint16(b, h)
		}
	}
	return b
}

func TestEncodeKnownBits(t *testing.T) {
	src := []float32{1, -2, 65520, 0x1p-25, float32(math.Inf(-1)), float32(math.Copysign(0, -1))}
	for _, c := range []struct {
		d    DType
		want []byte
	}{
		{F32, le32(0x3f800000, 0xc0000000, 0x477ff000, 0x33000000, 0xff800000, 0x80000000)},
		{F64, le64(math.Float64bits(1), math.Float64bits(-2), math.Float64bits(65520), math.Float64bits(0x1p-25), math.Float64bits(math.Inf(-1)), 1<<63)},
		{F16, le16(0x3c00, 0xc000, 0x7c00, 0x0000, 0xfc00, 0x8000)},
		{BF16, le16(0x3f80, 0xc000, 0x4780, 0x3300, 0xff80, 0x8000)},
	} {
		eachPath(t, func(t *testing.T, place func([]byte) []byte) {
			dst := place(make([]byte, len(c.want)))
			if err := EncodeF32(dst, src, c.d); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(dst, c.want) {
				t.Errorf("EncodeF32 to %v = % x, want % x", c.d, dst, c.want)
			}
			src64 := make([]float64, len(src))
			for i, f := range src {
				src64[i] = float64(f)
			}
			clear(dst)
			if err := EncodeF64(dst, src64, c.d); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(dst, c.want) {
				t.Errorf("EncodeF64 to %v = % x, want % x", c.d, dst, c.want)
			}
		})
	}
}

func TestEncodeKeepsNaN(t *testing.T) {
	// A NaN whose payload is only in the low bits: truncating or rounding it
	// naively gives Inf in F16 and BF16.
	nan32 := math.Float32frombits(0xff800001)
	nan64 := math.Float64frombits(0xfff0000000000001)
	for _, d := range []DType{F64, F32, F16, BF16} {
		dst := make([]byte, d.Size())
		got := make([]float64, 1)
		if err := EncodeF32(dst, []float32{nan32}, d); err != nil {
			t.Fatal(err)
		}
		if err := DecodeF64(got, dst, d); err != nil || !math.IsNaN(got[0]) || !math.Signbit(got[0]) {
			t.Errorf("EncodeF32 of a negative NaN to %v decodes as %v, %v", d, got[0], err)
		}
		if err := EncodeF64(dst, []float64{nan64}, d); err != nil {
			t.Fatal(err)
		}
		if err := DecodeF64(got, dst, d); err != nil || !math.IsNaN(got[0]) || !math.Signbit(got[0]) {
			t.Errorf("EncodeF64 of a negative NaN to %v decodes as %v, %v", d, got[0], err)
		}
	}
}

func TestRowErrors(t *testing.T) {
	for _, d := range All {
		n := 3
		good := make([]byte, n*d.Size())
		for _, bad := range [][]byte{nil, good[:len(good)-1], append(good, 0), make([]byte, (n+1)*d.Size())} {
			if err := DecodeF32(make([]float32, n), bad, d); err == nil {
				t.Errorf("DecodeF32 %v: %d bytes for %d elements: no error", d, len(bad), n)
			}
			if err := DecodeF64(make([]float64, n), bad, d); err == nil {
				t.Errorf("DecodeF64 %v: %d bytes for %d elements: no error", d, len(bad), n)
			}
		}
		if err := DecodeF32(make([]float32, n), good, d); err != nil {
			t.Errorf("DecodeF32 %v: %v", d, err)
		}
		if err := DecodeF32(nil, nil, d); err != nil {
			t.Errorf("DecodeF32 %v of an empty row: %v", d, err)
		}

		err := EncodeF32(good, make([]float32, n), d)
		err64 := EncodeF64(good, make([]float64, n), d)
		switch d {
		case F64, F32, F16, BF16:
			if err != nil || err64 != nil {
				t.Errorf("encode to %v: %v, %v", d, err, err64)
			}
			if err := EncodeF32(good[1:], make([]float32, n), d); err == nil {
				t.Errorf("EncodeF32 %v into a short row: no error", d)
			}
			if err := EncodeF64(append(good, 0), make([]float64, n), d); err == nil {
				t.Errorf("EncodeF64 %v into a long row: no error", d)
			}
		default:
			for _, e := range []error{err, err64} {
				if e == nil || !strings.Contains(e.Error(), "F64, F32, F16 and BF16") || !strings.Contains(e.Error(), d.String()) {
					t.Errorf("encode to %v: error %v should name the dtype and the supported targets", d, e)
				}
			}
		}
	}
	for _, d := range []DType{Invalid, DType(200)} {
		if err := DecodeF32(nil, nil, d); err == nil {
			t.Errorf("DecodeF32 with dtype %v: no error", d)
		}
		if err := DecodeF64(nil, nil, d); err == nil {
			t.Errorf("DecodeF64 with dtype %v: no error", d)
		}
		if err := EncodeF32(nil, nil, d); err == nil {
			t.Errorf("EncodeF32 with dtype %v: no error", d)
		}
		if err := EncodeF64(nil, nil, d); err == nil {
			t.Errorf("EncodeF64 with dtype %v: no error", d)
		}
	}
	err := DecodeF32(make([]float32, 2), make([]byte, 7), F32)
	if err == nil || !strings.Contains(err.Error(), "need 8 bytes") {
		t.Errorf("length error %v should say how many bytes are needed", err)
	}
}

// FuzzRows feeds arbitrary bytes, lengths and dtypes to the row functions:
// they must return an error or succeed, never panic.
func FuzzRows(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, uint8(F16), 4)
	f.Add([]byte{0xff, 0x7f}, uint8(BF16), 1)
	f.Add([]byte{}, uint8(0), 0)
	f.Add([]byte{1, 2, 3}, uint8(I64), -1)
	f.Fuzz(func(t *testing.T, b []byte, d uint8, n int) {
		n = min(max(n, 0), 1<<16)
		_ = DecodeF32(make([]float32, n), b, DType(d))
		_ = DecodeF64(make([]float64, n), b, DType(d))
		_ = EncodeF32(b, make([]float32, n), DType(d))
		_ = EncodeF64(b, make([]float64, n), DType(d))
		if size := DType(d).Size(); size > 0 {
			m := len(b) / size
			if err := DecodeF32(make([]float32, m), b[:m*size], DType(d)); err != nil {
				t.Errorf("DecodeF32 of a whole row: %v", err)
			}
		}
	})
}
