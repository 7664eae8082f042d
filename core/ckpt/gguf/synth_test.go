package gguf

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/dtype"
)

func open(t *testing.T, b []byte) *Reader {
	t.Helper()
	rd, err := Open(bytes.NewReader(b), int64(len(b)), "test.gguf")
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

func TestEveryValueType(t *testing.T) {
	f32 := func(v float32) []byte { return u32(math.Float32bits(v)) }
	f64 := func(v float64) []byte { return u64(math.Float64bits(v)) }
	b := newBuilder().
		kv("u8", tUint8, []byte{200}).
		kv("i8", tInt8, []byte{0x80}).
		kv("u16", tUint16, []byte{0xff, 0xff}).
		kv("i16", tInt16, []byte{0xfe, 0xff}).
		kv("u32", tUint32, u32(4000000000)).
		kv("i32", tInt32, u32(0xffffffff)).
		kv("f32", tFloat32, f32(0.1)).
		kv("bool.true", tBool, []byte{1}).
		kv("bool.false", tBool, []byte{0}).
		kv("str", tString, gstr("héllo \"q\" <b>")).
		kv("empty", tString, gstr("")).
		kv("u64", tUint64, u64(math.MaxUint64)).
		kv("i64", tInt64, u64(1<<63)).
		kv("f64", tFloat64, f64(-2.5e-300)).
		kv("f32.nan", tFloat32, f32(float32(math.NaN()))).
		kv("arr.i16", tArray, arr(tInt16, 3, []byte{1, 0, 0xff, 0xff, 0, 0x80})).
		kv("arr.f32", tArray, arr(tFloat32, 3, append(append(f32(1.5), f32(float32(math.Inf(-1)))...), f32(float32(math.NaN()))...))).
		kv("arr.bool", tArray, arr(tBool, 2, []byte{1, 0})).
		kv("arr.str", tArray, arr(tString, 2, append(gstr("a"), gstr("<b>")...))).
		kv("arr.empty", tArray, arr(tUint64, 0, nil)).
		kv("arr.nested", tArray, arr(tArray, 2, append(arr(tUint8, 2, []byte{1, 2}), arr(tString, 1, gstr("x"))...))).
		kv("arr.f64", tArray, arr(tFloat64, 1, f64(1e100))).
		kv("arr.u64", tArray, arr(tUint64, 1, u64(math.MaxUint64))).
		kv("arr.i64", tArray, arr(tInt64, 1, u64(1<<63))).
		kv("arr.u32", tArray, arr(tUint32, 1, u32(7))).
		kv("arr.i32", tArray, arr(tInt32, 1, u32(0xfffffff9))).
		kv("arr.u16", tArray, arr(tUint16, 1, []byte{9, 0})).
		kv("arr.u8", tArray, arr(tUint8, 1, []byte{255})).
		kv("arr.i8", tArray, arr(tInt8, 1, []byte{0xff}))
	want := map[string]string{
		"u8": "200", "i8": "-128", "u16": "65535", "i16": "-2", "u32": "4000000000", "i32": "-1",
		"f32": "0.1", "bool.true": "true", "bool.false": "false", "str": "héllo \"q\" <b>", "empty": "",
		"u64": "18446744073709551615", "i64": "-9223372036854775808", "f64": "-2.5e-300", "f32.nan": "NaN",
		"arr.i16":    "[1,-1,-32768]",
		"arr.f32":    `[1.5,"-Inf","NaN"]`,
		"arr.bool":   "[true,false]",
		"arr.str":    `["a","<b>"]`,
		"arr.empty":  "[]",
		"arr.nested": `[[1,2],["x"]]`,
		"arr.f64":    "[1e+100]",
		"arr.u64":    "[18446744073709551615]",
		"arr.i64":    "[-9223372036854775808]",
		"arr.u32":    "[7]", "arr.i32": "[-7]", "arr.u16": "[9]", "arr.u8": "[255]", "arr.i8": "[-1]",
	}
	rd := open(t, b.bytes())
	if !reflect.DeepEqual(rd.Metadata(), want) {
		for k, v := range want {
			if rd.Metadata()[k] != v {
				t.Errorf("%s = %q, want %q", k, rd.Metadata()[k], v)
			}
		}
		t.Fatalf("metadata %v", rd.Metadata())
	}
	for k, v := range rd.Metadata() {
		if strings.HasPrefix(k, "arr.") && !json.Valid([]byte(v)) {
			t.Errorf("%s is not JSON: %s", k, v)
		}
	}
}

func TestLongArraysAreAbbreviated(t *testing.T) {
	var ints, strs, nested []byte
	for i := range 1000 {
		ints = append(ints, u32(uint32(i))...)
		strs = append(strs, gstr(string(rune('a'+i%26)))...)
	}
	for range 20 {
		nested = append(nested, arr(tUint8, 17, make([]byte, 17))...)
	}
	rd := open(t, newBuilder().
		kv("ints", tArray, arr(tUint32, 1000, ints)).
		kv("strs", tArray, arr(tString, 1000, strs)).
		kv("nested", tArray, arr(tArray, 20, nested)).
		kv("sixteen", tArray, arr(tUint8, 16, make([]byte, 16))).
		kv("after", tString, gstr("still read")).bytes())
	for k, v := range map[string]string{
		"ints":    `{"type":"uint32","count":1000,"first":[0,1,2,3,4,5,6,7]}`,
		"strs":    `{"type":"string","count":1000,"first":["a","b","c","d","e","f","g","h"]}`,
		"sixteen": `[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]`,
		"after":   "still read",
	} {
		if got := rd.Metadata()[k]; got != v {
			t.Errorf("%s = %s, want %s", k, got, v)
		}
	}
	inner := `{"type":"uint8","count":17,"first":[0,0,0,0,0,0,0,0]}`
	wantNested := `{"type":"array","count":20,"first":[` + inner
	for range 7 {
		wantNested += "," + inner
	}
	if got := rd.Metadata()["nested"]; got != wantNested+"]}" {
		t.Errorf("nested = %s", got)
	}
}

func TestTensorTypesAndShapes(t *testing.T) {
	cases := []struct {
		typ uint32
		dt  dtype.DType
	}{{0, dtype.F32}, {1, dtype.F16}, {30, dtype.BF16}, {28, dtype.F64}, {24, dtype.I8}, {25, dtype.I16}, {26, dtype.I32}, {27, dtype.I64}}
	for _, c := range cases {
		for _, version := range []uint32{2, 3} {
			data := make([]byte, 2*3*4*c.dt.Size())
			for i := range data {
				data[i] = byte(i)
			}
			b := newBuilder()
			b.version = version
			b.tensor("w", []uint64{4, 3, 2}, c.typ, data).tensor("s", nil, c.typ, data[:c.dt.Size()])
			rd := open(t, b.bytes())
			want := []ckpt.Info{{Name: "w", DType: c.dt, Shape: []int64{2, 3, 4}}, {Name: "s", DType: c.dt, Shape: []int64{}}}
			if !reflect.DeepEqual(rd.Tensors(), want) {
				t.Errorf("type %d v%d: %v", c.typ, version, rd.Tensors())
			}
			got, err := ckpt.ReadAll(rd, "w")
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("type %d: data %v, %v", c.typ, got, err)
			}
		}
	}
}

func TestAlignmentAndPadding(t *testing.T) {
	b := newBuilder()
	b.alignment = 64
	b.kv("general.alignment", tUint32, u32(64))
	b.tensor("a", []uint64{3}, 0, f32s(1, 2, 3)).tensor("b", []uint64{1}, 0, f32s(4))
	b.data = append(b.data, 0, 0, 0) // trailing padding is allowed
	rd := open(t, b.bytes())
	if rd.Alignment() != 64 || rd.DataOffset()%64 != 0 {
		t.Errorf("alignment %d, data at %d", rd.Alignment(), rd.DataOffset())
	}
	if got, _ := ckpt.ReadAll(rd, "b"); !bytes.Equal(got, f32s(4)) {
		t.Errorf("b = %v", got)
	}
	// No tensors: the file may end at its header.
	rd = open(t, newBuilder().kv("general.name", tString, gstr("empty")).bytes())
	if len(rd.Tensors()) != 0 || rd.Metadata()["general.name"] != "empty" {
		t.Errorf("empty model: %v %v", rd.Tensors(), rd.Metadata())
	}
}

func TestQuantizedFilesAreRefused(t *testing.T) {
	b := newBuilder().
		tensor("norm", []uint64{32}, 0, make([]byte, 128)).
		tensor("blk.0.attn_q.weight", []uint64{256, 2}, 12, make([]byte, 288)).
		tensor("blk.0.attn_k.weight", []uint64{256, 2}, 12, make([]byte, 288)).
		tensor("output.weight", []uint64{32, 4}, 8, make([]byte, 136))
	_, err := Open(bytes.NewReader(b.bytes()), int64(len(b.bytes())), "q.gguf")
	checkError(t, err, ErrQuantized, true, "q.gguf", "blk.0.attn_q.weight")
	for _, s := range []string{"Q4_K", "3 of the file's 4 tensors", "Q4_K 2, Q8_0 1", "--outtype f16"} {
		if !bytes.Contains([]byte(err.Error()), []byte(s)) {
			t.Errorf("the message lacks %q: %v", s, err)
		}
	}
	b = newBuilder().tensor("x", []uint64{4}, 99, make([]byte, 16))
	_, err = Open(bytes.NewReader(b.bytes()), int64(len(b.bytes())), "u.gguf")
	checkError(t, err, ErrUnknownType, true, "u.gguf", "x")
}
