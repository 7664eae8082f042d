package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"path/filepath"
	"reflect"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/ckpt/ckpttest"
	"ladle/core/dtype"
)

// The numpy and GGUF readers reach the command line through ckpt.Open: inspect
// prints the contract JSON for them, and convert turns them into safetensors.

func TestInspectJSONOfNumpyAndGGUF(t *testing.T) {
	npz := ckpttest.Fixture(t, "candle/test.npz")
	gguf := ckpttest.Fixture(t, "gguf/llama-2-tiny-random.gguf")
	npy := ckpttest.Fixture(t, "candle/test.npy")
	code, stdout, stderr := runCLI(t, "inspect", "--json", npz, gguf, npy)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	type tensor struct {
		Name  string  `json:"name"`
		DType string  `json:"dtype"`
		Shape []int64 `json:"shape"`
	}
	var got []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || len(got) != 3 {
		t.Fatalf("not a JSON array of 3 objects (%v):\n%s", err, stdout)
	}
	for i, want := range []struct {
		path, format string
		tensors      int
		first        tensor
	}{
		{npz, "npz", 2, tensor{"x", "I64", []int64{10}}},
		{gguf, "gguf", 12, tensor{"token_embd.weight", "F16", []int64{32000, 8}}},
		{npy, "npy", 1, tensor{"arr_0", "I64", []int64{10}}},
	} {
		obj := got[i]
		if len(obj) != 4 {
			t.Errorf("%s: keys %v, want path, format, metadata, tensors", want.path, obj)
		}
		var path, format string
		var metadata map[string]string
		var tensors []tensor
		json.Unmarshal(obj["path"], &path)
		json.Unmarshal(obj["format"], &format)
		if err := json.Unmarshal(obj["metadata"], &metadata); err != nil || metadata == nil {
			t.Errorf("%s: metadata %s is not a map of strings", want.path, obj["metadata"])
		}
		if err := json.Unmarshal(obj["tensors"], &tensors); err != nil {
			t.Fatalf("%s: tensors %s: %v", want.path, obj["tensors"], err)
		}
		if path != want.path || format != want.format || len(tensors) != want.tensors {
			t.Errorf("%s: path %q, format %q, %d tensors; want %q, %q, %d", want.path, path, format, len(tensors), want.path, want.format, want.tensors)
		}
		if len(tensors) > 0 && !reflect.DeepEqual(tensors[0], want.first) {
			t.Errorf("%s: first tensor %+v, want %+v", want.path, tensors[0], want.first)
		}
		if format == "gguf" {
			if metadata["general.architecture"] != "llama" || metadata["llama.block_count"] != "1" {
				t.Errorf("gguf metadata %v", metadata)
			}
			var tokens struct {
				Type  string   `json:"type"`
				Count int      `json:"count"`
				First []string `json:"first"`
			}
			if err := json.Unmarshal([]byte(metadata["tokenizer.ggml.tokens"]), &tokens); err != nil ||
				tokens.Type != "string" || tokens.Count != 32000 || tokens.First[0] != "<unk>" {
				t.Errorf("tokenizer.ggml.tokens = %q (%v)", metadata["tokenizer.ggml.tokens"], err)
			}
		}
	}
}

// TestConvertNumpyAndGGUF converts each fixture to safetensors: every tensor
// keeps its name, dtype, shape and bytes, and GGUF's metadata comes along.
func TestConvertNumpyAndGGUF(t *testing.T) {
	for _, rel := range []string{"gguf/llama-2-tiny-random.gguf", "candle/test.npz", "candle/test.npy"} {
		in := ckpttest.Fixture(t, rel)
		out := filepath.Join(t.TempDir(), "out.safetensors")
		if code, _, stderr := runCLI(t, "convert", in, "-o", out); code != 0 {
			t.Fatalf("%s: exit %d: %s", rel, code, stderr)
		}
		src, err := ckpt.Open(in)
		if err != nil {
			t.Fatal(err)
		}
		dst, err := ckpt.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		if dst.Format() != "safetensors" || !reflect.DeepEqual(dst.Tensors(), src.Tensors()) {
			t.Errorf("%s: converted to %s %v\nfrom %v", rel, dst.Format(), dst.Tensors(), src.Tensors())
		}
		for _, info := range src.Tensors() {
			a, err1 := ckpt.ReadAll(src, info.Name)
			b, err2 := ckpt.ReadAll(dst, info.Name)
			if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
				t.Errorf("%s: %s changed in conversion (%v, %v)", rel, info.Name, err1, err2)
			}
		}
		if rel == "gguf/llama-2-tiny-random.gguf" && dst.Metadata()["general.architecture"] != "llama" {
			t.Errorf("the GGUF metadata was not carried over: %v", dst.Metadata())
		}
		src.Close()
		dst.Close()
	}
}

// TestConvertGGUFToF32 widens the GGUF's F16 weights: values are exact, and
// match those Python's struct decodes from the file.
func TestConvertGGUFToF32(t *testing.T) {
	in := ckpttest.Fixture(t, "gguf/llama-2-tiny-random.gguf")
	out := filepath.Join(t.TempDir(), "f32.safetensors")
	if code, _, stderr := runCLI(t, "convert", in, "-o", out, "--dtype", "F32"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	dst, err := ckpt.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	info, _ := ckpt.Lookup(dst, "blk.0.attn_q.weight")
	if info.DType != dtype.F32 || !reflect.DeepEqual(info.Shape, []int64{8, 8}) {
		t.Fatalf("blk.0.attn_q.weight is %s%v", info.DType, info.Shape)
	}
	data, err := ckpt.ReadAll(dst, "blk.0.attn_q.weight")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float32{0.024261474609375, 0.0196990966796875, -0.0509033203125, -0.041351318359375} {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:])); got != want {
			t.Errorf("blk.0.attn_q.weight[%d] = %v, want %v", i, got, want)
		}
	}
}
