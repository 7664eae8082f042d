package gguf

import (
	"bytes"
	"math"
	"testing"
)

func TestHostileFiles(t *testing.T) {
	valid := func() *builder { return newBuilder().tensor("w", []uint64{2}, 0, f32s(1, 2)) }
	headerOnly := func(version uint32, nTensors, nKV uint64) []byte {
		b := append([]byte(magic), u32(version)...)
		return append(append(b, u64(nTensors)...), u64(nKV)...)
	}
	deep := []byte{}
	for range 40 {
		deep = append(u32(uint32(tArray)), append(u64(1), deep...)...)
	}
	deep = append(deep, u32(uint32(tUint8))...)
	deep = append(deep, u64(0)...)
	truncatedData := valid().bytes()
	cases := []struct {
		name   string
		data   []byte
		kind   error
		unsup  bool
		tensor string
	}{
		{"empty", nil, ErrTruncated, false, ""},
		{"short", []byte("GGU"), ErrTruncated, false, ""},
		{"bad magic", []byte("GGUG\x03\x00\x00\x00"), ErrBadMagic, false, ""},
		{"version 1", headerOnly(1, 0, 0), ErrVersion, true, ""},
		{"version 4", headerOnly(4, 0, 0), ErrVersion, true, ""},
		{"big-endian", append([]byte(magic), 0, 0, 0, 3), ErrVersion, true, ""},
		{"no counts", append([]byte(magic), u32(3)...), ErrTruncated, false, ""},
		{"huge tensor count", headerOnly(3, 1<<62, 0), ErrTooMany, false, ""},
		{"huge metadata count", headerOnly(3, 0, math.MaxUint64), ErrTooMany, false, ""},
		{"counts past the end", append(headerOnly(3, 1, 1), make([]byte, 30)...), ErrTooMany, false, ""},
		{"string value cut short", append(headerOnly(3, 0, 1), append(append(gstr("k"), u32(uint32(tString))...), cutEnd(gstr("hello world"), 3)...)...), ErrTooMany, false, ""},
		{"key longer than the file", append(headerOnly(3, 0, 1), append(u64(1<<40), "key..........."...)...), ErrTooMany, false, ""},
		{"unknown value type", newBuilder().kv("k", 13, []byte{0, 0, 0, 0}).bytes(), ErrValueType, false, ""},
		{"bool of 2", newBuilder().kv("k", tBool, []byte{2}).bytes(), ErrBadValue, false, ""},
		{"bool of 2 in a long array", newBuilder().kv("k", tArray, arr(tBool, 20, append(make([]byte, 19), 2))).bytes(), ErrBadValue, false, ""},
		{"huge array count", newBuilder().kv("k", tArray, arr(tUint64, 1<<60, nil)).bytes(), ErrTooMany, false, ""},
		{"array of unknown type", newBuilder().kv("k", tArray, arr(20, 1, []byte{1})).bytes(), ErrValueType, false, ""},
		{"huge string in an array", newBuilder().kv("k", tArray, arr(tString, 1, u64(1<<50))).bytes(), ErrTooMany, false, ""},
		{"huge string past the preview", newBuilder().kv("k", tArray, arr(tString, 20, append(bytes.Repeat(gstr("a"), 19), u64(1<<50)...))).bytes(), ErrTooMany, false, ""},
		{"arrays nested 40 deep", newBuilder().kv("k", tArray, deep).bytes(), ErrTooDeep, false, ""},
		{"duplicate key", newBuilder().kv("k", tUint8, []byte{1}).kv("k", tUint8, []byte{2}).bytes(), ErrDuplicateKey, false, ""},
		{"alignment of the wrong type", newBuilder().kv("general.alignment", tUint64, u64(32)).bytes(), ErrBadAlignment, false, ""},
		{"alignment of zero", newBuilder().kv("general.alignment", tUint32, u32(0)).bytes(), ErrBadAlignment, false, ""},
		{"alignment not a power of two", newBuilder().kv("general.alignment", tUint32, u32(48)).bytes(), ErrBadAlignment, false, ""},
		{"duplicate tensor", valid().tensor("w", []uint64{1}, 0, f32s(3)).bytes(), ErrDuplicateName, false, "w"},
		{"five dimensions", newBuilder().tensor("w", []uint64{1, 1, 1, 1, 1}, 0, f32s(1)).bytes(), ErrTooManyDims, true, "w"},
		{"tensor info cut short", append(headerOnly(3, 1, 0), append(append(append(gstr("w"), u32(1)...), u64(2)...), 0, 0, 0, 0, 0, 0, 0, 0)...), ErrTruncated, false, "w"},
		{"huge dimension count", append(headerOnly(3, 1, 0), append(append(gstr("w"), u32(math.MaxUint32)...), make([]byte, 40)...)...), ErrTruncated, false, "w"},
		{"dimension past int64", newBuilder().tensorAt("w", []uint64{1 << 63}, 0, 0).bytes(), ErrShapeOverflow, false, "w"},
		{"element count overflow", newBuilder().tensorAt("w", []uint64{1 << 32, 1 << 32}, 0, 0).bytes(), ErrShapeOverflow, false, "w"},
		{"byte count overflow", newBuilder().tensorAt("w", []uint64{1 << 61}, 28, 0).bytes(), ErrShapeOverflow, false, "w"},
		{"misaligned offset", newBuilder().tensorAt("w", []uint64{1}, 0, 4).bytes(), ErrMisaligned, false, "w"},
		{"offset past the end", valid().tensorAt("v", []uint64{1}, 0, 1<<40).bytes(), ErrOutOfRange, false, "v"},
		{"offset past int64", newBuilder().tensorAt("w", []uint64{1}, 0, 1<<63).bytes(), ErrOutOfRange, false, "w"},
		{"truncated data", truncatedData[:len(truncatedData)-1], ErrOutOfRange, false, "w"},
		{"overlap", valid().tensorAt("v", []uint64{1}, 0, 0).bytes(), ErrOverlap, false, "v"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Open(bytes.NewReader(c.data), int64(len(c.data)), "hostile.gguf")
			checkError(t, err, c.kind, c.unsup, "hostile.gguf", c.tensor)
		})
	}
}

// TestTruncations cuts a synthetic file at every length, and the fixture at
// every length around its structure and at a stride through the rest: each cut
// must give a typed error (a file cut after its last tensor's data, in its
// trailing padding, may open).
func TestTruncations(t *testing.T) {
	synth := newBuilder().
		kv("general.architecture", tString, gstr("llama")).
		kv("general.alignment", tUint32, u32(16)).
		kv("tokens", tArray, arr(tString, 20, bytes.Repeat(gstr("tok"), 20))).
		kv("nested", tArray, arr(tArray, 1, arr(tFloat64, 2, make([]byte, 16))))
	synth.alignment = 16
	synth.tensor("a", []uint64{3, 2}, 1, make([]byte, 12)).tensor("b", []uint64{5}, 0, make([]byte, 20))
	sb := synth.bytes()
	for n := range len(sb) {
		_, err := Open(bytes.NewReader(sb[:n]), int64(n), "cut.gguf")
		if err == nil {
			t.Fatalf("the synthetic file cut to %d of %d bytes opened", n, len(sb))
		}
		checkTyped(t, err)
	}

	if fixturesIfPresent() == "" {
		t.Skip("fixtures absent")
	}
	b := fixture(t)
	full, _ := Open(bytes.NewReader(b), int64(len(b)), "tiny.gguf")
	cuts := map[int]bool{}
	for n := 0; n < 4096; n++ {
		cuts[n] = true
	}
	for n := 0; n < len(b); n += 4099 {
		cuts[n] = true
	}
	for _, name := range []string{"token_embd.weight", "output.weight", "blk.0.ffn_norm.weight"} {
		r, _ := full.Tensor(name)
		_, off, size := r.Outer()
		for _, at := range []int64{off, off + size} {
			for d := int64(-2); d <= 2; d++ {
				cuts[int(at+d)] = true
			}
		}
	}
	for _, at := range []int64{724398, full.DataOffset()} {
		for d := int64(-2); d <= 2; d++ {
			cuts[int(at+d)] = true
		}
	}
	for n := range cuts {
		if n < 0 || n >= len(b) {
			continue
		}
		_, err := Open(bytes.NewReader(b[:n]), int64(n), "tiny.gguf")
		if err == nil {
			t.Fatalf("the fixture cut to %d bytes opened", n)
		}
		checkTyped(t, err)
	}
}

// TestCountsDoNotDriveAllocations opens files whose counts claim far more
// than they hold: the refusal must come before any allocation of that size.
func TestCountsDoNotDriveAllocations(t *testing.T) {
	for _, b := range [][]byte{
		newBuilder().kv("k", tArray, arr(tString, 1<<40, nil)).bytes(),
		append(append(append([]byte(magic), u32(3)...), u64(1<<50)...), u64(0)...),
		newBuilder().kv("k", tString, u64(1<<45)).bytes(),
	} {
		allocs := testing.AllocsPerRun(5, func() {
			Open(bytes.NewReader(b), int64(len(b)), "big.gguf")
		})
		if allocs > 50 {
			t.Errorf("%d allocations refusing a %d-byte file", int(allocs), len(b))
		}
	}
}

// cutEnd drops the last n bytes of b.
func cutEnd(b []byte, n int) []byte { return b[:len(b)-n] }
