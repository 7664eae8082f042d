package gguf

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/ckpt/ckpttest"
)

// builder writes GGUF files for tests, valid or deliberately not.
type builder struct {
	version   uint32
	alignment int64
	kvs       []byte
	nKV       int
	infos     []byte
	nTensors  int
	data      []byte
}

func newBuilder() *builder { return &builder{version: 3, alignment: DefaultAlignment} }

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// gstr encodes a GGUF string.
func gstr(s string) []byte { return append(u64(uint64(len(s))), s...) }

// kv adds a metadata entry with an already encoded value.
func (b *builder) kv(key string, t valueType, value []byte) *builder {
	b.kvs = append(b.kvs, gstr(key)...)
	b.kvs = append(b.kvs, u32(uint32(t))...)
	b.kvs = append(b.kvs, value...)
	b.nKV++
	return b
}

// arr encodes an array value of n items whose encodings are concatenated in items.
func arr(et valueType, n int, items []byte) []byte {
	return append(append(u32(uint32(et)), u64(uint64(n))...), items...)
}

// tensorAt adds a tensor-table entry without data.
func (b *builder) tensorAt(name string, dims []uint64, typ uint32, offset uint64) *builder {
	b.infos = append(b.infos, gstr(name)...)
	b.infos = append(b.infos, u32(uint32(len(dims)))...)
	for _, d := range dims {
		b.infos = append(b.infos, u64(d)...)
	}
	b.infos = append(b.infos, u32(typ)...)
	b.infos = append(b.infos, u64(offset)...)
	b.nTensors++
	return b
}

// tensor adds a tensor and its data, at the next aligned offset.
func (b *builder) tensor(name string, dims []uint64, typ uint32, data []byte) *builder {
	for int64(len(b.data))%b.alignment != 0 {
		b.data = append(b.data, 0)
	}
	b.tensorAt(name, dims, typ, uint64(len(b.data)))
	b.data = append(b.data, data...)
	return b
}

func (b *builder) bytes() []byte {
	out := []byte(magic)
	out = append(out, u32(b.version)...)
	out = append(out, u64(uint64(b.nTensors))...)
	out = append(out, u64(uint64(b.nKV))...)
	out = append(out, b.kvs...)
	out = append(out, b.infos...)
	for int64(len(out))%b.alignment != 0 {
		out = append(out, 0)
	}
	return append(out, b.data...)
}

func f32s(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func checkTyped(t *testing.T, err error) {
	t.Helper()
	var fe *ckpt.FormatError
	var ue *ckpt.UnsupportedError
	var ne *ckpt.NotFoundError
	if !errors.As(err, &fe) && !errors.As(err, &ue) && !errors.As(err, &ne) {
		t.Fatalf("untyped error %T: %v", err, err)
	}
}

// checkError checks an error's kind, type and the names it gives.
func checkError(t *testing.T, err error, kind error, unsup bool, file, tensor string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("got %v, want %v", err, kind)
	}
	var fe *ckpt.FormatError
	var ue *ckpt.UnsupportedError
	switch {
	case unsup && !errors.As(err, &ue):
		t.Errorf("want an UnsupportedError, got %T: %v", err, err)
	case !unsup && !errors.As(err, &fe):
		t.Errorf("want a FormatError, got %T: %v", err, err)
	}
	if !strings.HasPrefix(err.Error(), file+": ") {
		t.Errorf("the error does not name the file: %v", err)
	}
	if tensor != "" && !strings.Contains(err.Error(), `tensor "`+tensor+`"`) {
		t.Errorf("the error does not name tensor %q: %v", tensor, err)
	}
}

const fixtureRel = "gguf/llama-2-tiny-random.gguf"

func fixture(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(ckpttest.Fixture(t, fixtureRel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixturesIfPresent returns the fixtures folder, or "" without skipping (for fuzz seeds).
func fixturesIfPresent() string {
	dir := os.Getenv("LADLE_FIXTURES")
	if dir == "" {
		root, err := ckpttest.RepoRoot()
		if err != nil {
			return ""
		}
		dir = filepath.Join(root, "..", "shared", "fixtures")
	}
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}
