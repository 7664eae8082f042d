package safetensors

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/dtype"
)

func mustWrite(t testing.TB, tensors []ckpt.Info, md map[string]string, data [][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, tensors, md)
	if err != nil {
		t.Fatal(err)
	}
	for i, info := range tensors {
		if err := w.WriteTensor(info.Name, data[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// randomCheckpoint makes tensors of every dtype and random shapes (scalars and empty ones too).
func randomCheckpoint(rng *rand.Rand) ([]ckpt.Info, [][]byte) {
	var tensors []ckpt.Info
	var data [][]byte
	for i := 0; i < 12; i++ {
		dt := dtype.All[rng.IntN(len(dtype.All))]
		var shape []int64
		for d := rng.IntN(4); d > 0; d-- {
			shape = append(shape, int64(rng.IntN(6)))
		}
		if shape == nil && rng.IntN(2) == 0 {
			shape = []int64{}
		}
		info := ckpt.Info{Name: "layer." + string(rune('a'+i)) + ".weight", DType: dt, Shape: shape}
		b := make([]byte, info.Bytes())
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		tensors = append(tensors, info)
		data = append(data, b)
	}
	return tensors, data
}

func TestRoundTripIsByteIdentical(t *testing.T) {
	for seed := uint64(0); seed < 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 1))
		tensors, data := randomCheckpoint(rng)
		md := map[string]string{"ladle.recipe": "merge_method: linear\n", "z": "\"quoted\" \u00e9", "a": ""}
		first := mustWrite(t, tensors, md, data)
		if (8+int(le64len(first)))%8 != 0 {
			t.Errorf("data does not start at a multiple of 8")
		}
		r, err := Open(bytes.NewReader(first), int64(len(first)), "first")
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if !reflect.DeepEqual(r.Metadata(), md) {
			t.Errorf("metadata %v, want %v", r.Metadata(), md)
		}
		var again [][]byte
		for i, info := range r.Tensors() {
			if info.Name != tensors[i].Name || info.DType != tensors[i].DType || ckpt.NumElements(info.Shape) != ckpt.NumElements(tensors[i].Shape) || len(info.Shape) != len(tensors[i].Shape) {
				t.Fatalf("tensor %d: read %+v, wrote %+v", i, info, tensors[i])
			}
			b := tensorBytes(t, r, info.Name)
			if !bytes.Equal(b, data[i]) {
				t.Fatalf("tensor %s: data differs", info.Name)
			}
			again = append(again, b)
		}
		second := mustWrite(t, r.Tensors(), r.Metadata(), again)
		if !bytes.Equal(first, second) {
			t.Fatalf("seed %d: read-write of a Ladle file changed its bytes", seed)
		}
	}
}

func le64len(file []byte) uint64 {
	var n uint64
	for i := 7; i >= 0; i-- {
		n = n<<8 | uint64(file[i])
	}
	return n
}

func TestWriterStreamsInParts(t *testing.T) {
	tensors := []ckpt.Info{{Name: "a", DType: dtype.F32, Shape: []int64{3}}, {Name: "b", DType: dtype.U8, Shape: []int64{2}}}
	whole := mustWrite(t, tensors, nil, [][]byte{{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {13, 14}})
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, tensors, nil)
	w.BeginTensor("a")
	w.Write([]byte{1, 2, 3, 4, 5})
	w.Write([]byte{6, 7, 8, 9, 10, 11, 12})
	if err := w.CopyTensor("b", strings.NewReader("\x0d\x0e")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), whole) {
		t.Error("writing in parts gave other bytes than writing whole tensors")
	}
}

func TestWriterRefusesMisuse(t *testing.T) {
	tensors := []ckpt.Info{{Name: "a", DType: dtype.F32, Shape: []int64{1}}, {Name: "b", DType: dtype.F32, Shape: []int64{1}}}
	cases := map[string]func(w *Writer) error{
		"out of order":  func(w *Writer) error { return w.WriteTensor("b", make([]byte, 4)) },
		"undeclared":    func(w *Writer) error { return w.WriteTensor("c", make([]byte, 4)) },
		"too short":     func(w *Writer) error { return w.WriteTensor("a", make([]byte, 3)) },
		"too long":      func(w *Writer) error { w.BeginTensor("a"); _, err := w.Write(make([]byte, 5)); return err },
		"write first":   func(w *Writer) error { _, err := w.Write(make([]byte, 1)); return err },
		"missing data":  func(w *Writer) error { w.WriteTensor("a", make([]byte, 4)); return w.Close() },
		"short partial": func(w *Writer) error { w.BeginTensor("a"); w.Write(make([]byte, 2)); return w.BeginTensor("b") },
		"short copy":    func(w *Writer) error { return w.CopyTensor("a", strings.NewReader("xy")) },
	}
	for name, misuse := range cases {
		w, err := NewWriter(&bytes.Buffer{}, tensors, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := misuse(w); err == nil {
			t.Errorf("%s: no error", name)
		}
		if err := w.Close(); err == nil {
			t.Errorf("%s: Close succeeded after misuse", name)
		}
	}
	if _, err := NewWriter(&bytes.Buffer{}, []ckpt.Info{tensors[0], tensors[0]}, nil); err == nil {
		t.Error("duplicate declared names accepted")
	}
	if _, err := NewWriter(&bytes.Buffer{}, []ckpt.Info{{Name: "x", DType: dtype.F32, Shape: []int64{1 << 62, 4}}}, nil); err == nil {
		t.Error("overflowing shape accepted")
	}
}

func TestShardedRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	tensors, data := randomCheckpoint(rng)
	dir := filepath.Join(t.TempDir(), "out")
	sw, err := NewShardedWriter(dir, "model", tensors, map[string]string{"format": "pt"}, 64)
	if err != nil {
		t.Fatal(err)
	}
	for i, info := range tensors {
		if err := sw.WriteTensor(info.Name, data[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	plan := PlanShards(tensors, 64)
	if len(plan) < 2 {
		t.Fatalf("expected several shards, got %d", len(plan))
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(plan)+1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("folder holds %v, want %d shards and an index", names, len(plan))
	}
	for i, group := range plan {
		fi, err := os.Stat(filepath.Join(dir, ShardName("model", i, len(plan))))
		if err != nil {
			t.Fatal(err)
		}
		var dataBytes int64
		for _, info := range group {
			dataBytes += info.Bytes()
		}
		if dataBytes > 64 && len(group) > 1 {
			t.Errorf("shard %d holds %d data bytes in %d tensors, over the maximum", i, dataBytes, len(group))
		}
		_ = fi
	}
	for _, path := range []string{dir, filepath.Join(dir, "model.safetensors.index.json")} {
		src, err := ckpt.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if src.Metadata()["format"] != "pt" || src.Metadata()["total_size"] == "" {
			t.Errorf("metadata %v", src.Metadata())
		}
		for i, info := range src.Tensors() {
			if info.Name != tensors[i].Name {
				t.Fatalf("tensor %d is %s, want %s", i, info.Name, tensors[i].Name)
			}
			if !bytes.Equal(tensorBytes(t, src, info.Name), data[i]) {
				t.Fatalf("%s differs", info.Name)
			}
		}
		src.Close()
	}
}

func TestShardedAbortLeavesNothing(t *testing.T) {
	tensors := []ckpt.Info{{Name: "a", DType: dtype.F32, Shape: []int64{4}}, {Name: "b", DType: dtype.F32, Shape: []int64{4}}}
	dir := t.TempDir()
	sw, err := NewShardedWriter(dir, "model", tensors, nil, 16)
	if err != nil {
		t.Fatal(err)
	}
	sw.WriteTensor("a", make([]byte, 16))
	if err := sw.Close(); err == nil {
		t.Fatal("Close with a tensor missing succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a failed sharded write left %d files", len(entries))
	}
}

// An aborted sharded write into a folder it had to create removes that folder (and the
// parents it created); a folder that existed before stays.
func TestShardedAbortRemovesTheFolderItCreated(t *testing.T) {
	tensors := []ckpt.Info{{Name: "a", DType: dtype.F32, Shape: []int64{4}}, {Name: "b", DType: dtype.F32, Shape: []int64{4}}}
	root := t.TempDir()
	dir := filepath.Join(root, "new", "model")
	sw, err := NewShardedWriter(dir, "model", tensors, nil, 16)
	if err != nil {
		t.Fatal(err)
	}
	sw.WriteTensor("a", make([]byte, 16))
	sw.Abort()
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("an aborted sharded write left %v", entries)
	}
	existing := t.TempDir()
	sw, _ = NewShardedWriter(existing, "model", tensors, nil, 16)
	sw.WriteTensor("a", make([]byte, 16))
	sw.Abort()
	if _, err := os.Stat(existing); err != nil {
		t.Errorf("the folder that existed before is gone: %v", err)
	}
	// A complete write keeps its folder.
	sw, _ = NewShardedWriter(dir, "model", tensors, nil, 16)
	sw.WriteTensor("a", make([]byte, 16))
	sw.WriteTensor("b", make([]byte, 16))
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Errorf("a complete sharded write holds %v", entries)
	}
}

func TestShardedIndexIsChecked(t *testing.T) {
	dir := t.TempDir()
	tensors := []ckpt.Info{{Name: "a", DType: dtype.F32, Shape: []int64{1}}}
	shard := mustWrite(t, tensors, nil, [][]byte{make([]byte, 4)})
	os.WriteFile(filepath.Join(dir, "s1.safetensors"), shard, 0o644)
	cases := map[string]string{
		"escape":    `{"weight_map": {"a": "../s1.safetensors"}}`,
		"missing":   `{"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors"}}`,
		"unlisted":  `{"weight_map": {"zz": "s1.safetensors"}}`,
		"no shard":  `{"weight_map": {"a": "s2.safetensors"}}`,
		"bad json":  `{"weight_map": `,
		"empty map": `{"metadata": {}}`,
	}
	for name, index := range cases {
		path := filepath.Join(dir, "model.safetensors.index.json")
		os.WriteFile(path, []byte(index), 0o644)
		if src, err := OpenIndex(path); err == nil {
			src.Close()
			t.Errorf("%s: index accepted", name)
		} else if !strings.Contains(err.Error(), "model.safetensors.index.json") && !strings.Contains(err.Error(), "s2.safetensors") {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
	}
}
