package gguf

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"ladle/core/ckpt"
)

func FuzzOpen(f *testing.F) {
	if dir := fixturesIfPresent(); dir != "" {
		if b, err := os.ReadFile(filepath.Join(dir, fixtureRel)); err == nil {
			f.Add(b)
			// The whole fixture is 1.7 MB, mostly its vocabulary and weights; a
			// copy with the vocabulary cut to its first entries and no data keeps
			// the fuzzer on the structure.
			f.Add(shrinkFixture(b))
		}
	}
	f.Add(newBuilder().kv("general.alignment", tUint32, u32(16)).
		kv("a", tArray, arr(tArray, 2, append(arr(tBool, 1, []byte{1}), arr(tString, 1, gstr("x"))...))).
		kv("f", tFloat64, u64(1)).
		tensor("w", []uint64{2, 2}, 1, make([]byte, 8)).tensor("b", []uint64{2}, 30, make([]byte, 4)).bytes())
	f.Add(newBuilder().kv("long", tArray, arr(tInt32, 20, make([]byte, 80))).
		tensor("q", []uint64{32}, 8, make([]byte, 34)).bytes())
	b := newBuilder()
	b.version = 2
	f.Add(b.tensor("s", nil, 27, make([]byte, 8)).bytes())

	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := Open(bytes.NewReader(data), int64(len(data)), "fuzz.gguf")
		if err != nil {
			checkTyped(t, err)
			return
		}
		for _, info := range rd.Tensors() {
			if info.Bytes() < 0 || !info.DType.Valid() {
				t.Fatalf("%s: %s %v", info.Name, info.DType, info.Shape)
			}
			got, err := ckpt.ReadAll(rd, info.Name)
			if err != nil || int64(len(got)) != info.Bytes() {
				t.Fatalf("a validated tensor %s fails to read: %d bytes, %v", info.Name, len(got), err)
			}
		}
	})
}

// shrinkFixture rebuilds the fixture's structure with short arrays and
// tensors of one element, so the fuzzer mutates a realistic header cheaply.
func shrinkFixture(b []byte) []byte {
	rd, err := Open(bytes.NewReader(b), int64(len(b)), "")
	if err != nil {
		return nil
	}
	s := newBuilder().kv("general.architecture", tString, gstr(rd.Metadata()["general.architecture"])).
		kv("llama.context_length", tUint32, u32(4096)).
		kv("llama.attention.layer_norm_rms_epsilon", tFloat32, u32(0x3727c5ac)).
		kv("tokenizer.ggml.tokens", tArray, arr(tString, 3, append(append(gstr("<unk>"), gstr("<s>")...), gstr("</s>")...)))
	for _, info := range rd.Tensors() {
		typ := uint32(1)
		if info.DType.Size() == 4 {
			typ = 0
		}
		s.tensor(info.Name, []uint64{1, 1}, typ, make([]byte, info.DType.Size()))
	}
	return s.bytes()
}
