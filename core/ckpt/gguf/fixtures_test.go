package gguf

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/ckpt/ckpttest"
	"ladle/core/dtype"
)

// The fixture, as Python's struct reads it: GGUF v3, 18 metadata entries, 12
// tensors, the tensor table ending at byte 724398 and the data section starting
// at 724416 (32-byte alignment); the last tensor ends at the file's end.

func TestFixture(t *testing.T) {
	b := fixture(t)
	rd, err := Open(bytes.NewReader(b), int64(len(b)), "tiny.gguf")
	if err != nil {
		t.Fatal(err)
	}
	if rd.Format() != "gguf" || rd.Version() != 3 || rd.Alignment() != 32 || rd.DataOffset() != 724416 {
		t.Errorf("format %q version %d alignment %d data at %d", rd.Format(), rd.Version(), rd.Alignment(), rd.DataOffset())
	}
	f16, f32 := dtype.F16, dtype.F32
	want := []ckpt.Info{
		{Name: "token_embd.weight", DType: f16, Shape: []int64{32000, 8}},
		{Name: "blk.0.attn_q.weight", DType: f16, Shape: []int64{8, 8}},
		{Name: "blk.0.attn_k.weight", DType: f16, Shape: []int64{8, 8}},
		{Name: "blk.0.attn_v.weight", DType: f16, Shape: []int64{8, 8}},
		{Name: "blk.0.attn_output.weight", DType: f16, Shape: []int64{8, 8}},
		{Name: "blk.0.ffn_gate.weight", DType: f16, Shape: []int64{32, 8}},
		{Name: "blk.0.ffn_up.weight", DType: f16, Shape: []int64{32, 8}},
		{Name: "blk.0.ffn_down.weight", DType: f16, Shape: []int64{8, 32}},
		{Name: "blk.0.attn_norm.weight", DType: f32, Shape: []int64{8}},
		{Name: "blk.0.ffn_norm.weight", DType: f32, Shape: []int64{8}},
		{Name: "output_norm.weight", DType: f32, Shape: []int64{8}},
		{Name: "output.weight", DType: f16, Shape: []int64{32000, 8}},
	}
	if !reflect.DeepEqual(rd.Tensors(), want) {
		t.Fatalf("tensors:\n%v\nwant\n%v", rd.Tensors(), want)
	}

	md := rd.Metadata()
	if len(md) != 18 {
		t.Errorf("%d metadata entries, want 18", len(md))
	}
	for k, v := range map[string]string{
		"general.architecture":                   "llama",
		"general.name":                           "LLaMA v2",
		"general.file_type":                      "1",
		"llama.context_length":                   "4096",
		"llama.embedding_length":                 "8",
		"llama.block_count":                      "1",
		"llama.feed_forward_length":              "32",
		"llama.attention.head_count":             "2",
		"llama.attention.layer_norm_rms_epsilon": "1e-05",
		"tokenizer.ggml.model":                   "llama",
		"tokenizer.ggml.bos_token_id":            "1",
		"tokenizer.ggml.eos_token_id":            "2",
		"tokenizer.ggml.unknown_token_id":        "0",
		"tokenizer.ggml.tokens":                  `{"type":"string","count":32000,"first":["<unk>","<s>","</s>","<0x00>","<0x01>","<0x02>","<0x03>","<0x04>"]}`,
		"tokenizer.ggml.scores":                  `{"type":"float32","count":32000,"first":[0,0,0,0,0,0,0,0]}`,
		"tokenizer.ggml.token_type":              `{"type":"int32","count":32000,"first":[2,3,3,6,6,6,6,6]}`,
	} {
		if md[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, md[k], v)
		}
	}

	// Values decoded with Python's struct at the offsets the table gives.
	checkF16 := func(name string, at int, want ...float32) {
		t.Helper()
		data, err := ckpt.ReadAll(rd, name)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range want {
			if got := dtype.F16ToF32(binary.LittleEndian.Uint16(data[2*(at+i):])); got != w {
				t.Errorf("%s[%d] = %v, want %v", name, at+i, got, w)
			}
		}
	}
	checkF16("blk.0.attn_q.weight", 0, 0.024261474609375, 0.0196990966796875, -0.0509033203125, -0.041351318359375)
	checkF16("token_embd.weight", 800, -0.02142333984375, 0.0189666748046875, 0.0338134765625, 0.007404327392578125)
	checkF16("output.weight", 31999*8, 0.004413604736328125, 0.0307159423828125, 0.01012420654296875, -0.0116729736328125)
	checkF16("blk.0.ffn_down.weight", 0, 0.0207366943359375, -0.007080078125, 0.0157623291015625, -0.034149169921875)
	if got, _ := ckpt.ReadAll(rd, "blk.0.attn_norm.weight"); !bytes.Equal(got, f32s(1, 1, 1, 1, 1, 1, 1, 1)) {
		t.Errorf("attn_norm = %v", got)
	}
	// A window on the file: output.weight ends the file.
	r, _ := rd.Tensor("output.weight")
	if _, off, n := r.Outer(); off != 724416+514144 || off+n != int64(len(b)) {
		t.Errorf("output.weight at %d+%d", off, n)
	}
	if _, err := rd.Tensor("nope"); err == nil {
		t.Error("a missing name gives no error")
	} else {
		checkTyped(t, err)
	}
}

func TestOpenSniffsGGUF(t *testing.T) {
	src, err := ckpt.Open(ckpttest.Fixture(t, fixtureRel))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Format() != "gguf" || len(src.Tensors()) != 12 {
		t.Errorf("format %q, %d tensors", src.Format(), len(src.Tensors()))
	}
}
