package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ladle/core/ckpt/safetensors"
	"ladle/core/plan"
)

// shard splits a safetensors file into a sharded checkpoint (several shards and
// model.safetensors.index.json) in dir/name, and returns its files named
// "name/<file>", as a folder pick names them.
func shard(t *testing.T, file []byte, dir, name string) []File {
	t.Helper()
	r, err := safetensors.Open(bytes.NewReader(file), int64(len(file)), name)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	sw, err := safetensors.NewShardedWriter(out, "model", r.Tensors(), r.Metadata(), 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range r.Tensors() {
		sec, err := r.Tensor(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, sec.Size())
		if _, err := sec.ReadAt(b, 0); err != nil {
			t.Fatal(err)
		}
		if err := sw.WriteTensor(info.Name, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var files []File
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(out, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, memFile(name+"/"+e.Name(), b))
	}
	if len(files) < 3 {
		t.Fatalf("the folder holds %d files; want several shards and an index", len(files))
	}
	return files
}

// TestShardedFolderMergesLikeSingleFile: a model sent as a folder's shards and index
// (names "a/...") and named "a" in a recipe merges byte for byte as the same model
// sent as one file named "a", and as `ladle merge` over the folder on disk.
func TestShardedFolderMergesLikeSingleFile(t *testing.T) {
	a, b := model(t, layers, 1), model(t, layers, 2)
	dir := writeFiles(t, map[string][]byte{"b": b})
	folder := shard(t, a, dir, "a")
	const text = "merge_method: task_arithmetic\nbase_model: b\nmodels:\n  - model: a\n    parameters: {weight: 0.7}\nparameters: {normalize: false}\n"
	want := native(t, dir, text, plan.Options{})

	h := newHost()
	e := New(h.env())
	e.Handle(Request{Type: TypeMerge, ID: "single", Recipe: text}, []File{memFile("a", a), memFile("b", b)})
	single, ok := h.last(t).(Done)
	if !ok {
		t.Fatalf("single file: %#v", h.last(t))
	}
	if !bytes.Equal(single.Blob.([]byte), want) {
		t.Fatal("the single-file merge differs from the native merge of the folder")
	}
	// The folder's files in any order, among other files; by the folder's name, its
	// last element, or its index's name.
	files := append([]File{memFile("b", b)}, folder...)
	files[1], files[len(files)-1] = files[len(files)-1], files[1]
	for _, name := range []string{"a", "a/", "models/a", "a/model.safetensors.index.json"} {
		e.Handle(Request{Type: TypeMerge, ID: name, Recipe: strings.Replace(text, "model: a\n", "model: "+name+"\n", 1)}, files)
		done, ok := h.last(t).(Done)
		if !ok {
			t.Fatalf("%s: %#v", name, h.last(t))
		}
		if name == "a" && !bytes.Equal(done.Blob.([]byte), want) {
			t.Fatal("the sharded folder merges differently from the single file")
		}
	}
	// Split over workers, too.
	var parts []byte
	for i := range 3 {
		e.Handle(Request{Type: TypeMerge, ID: "p", Recipe: text, Part: &Part{Index: i, Count: 3}}, files)
		done, ok := h.last(t).(Done)
		if !ok {
			t.Fatalf("part %d: %#v", i, h.last(t))
		}
		parts = append(parts, done.Blob.([]byte)...)
	}
	if !bytes.Equal(parts, want) {
		t.Error("the split merge of the folder differs")
	}

	// Inspect: the folder is one model named after it, with the single file's tensors.
	e.Handle(Request{Type: TypeInspect, ID: "i"}, files)
	got, ok := h.last(t).(Inspected)
	if !ok || len(got.Models) != 2 {
		t.Fatalf("inspect: %#v", h.last(t))
	}
	wantModel, err := InspectFile(memFile("a", a))
	if err != nil {
		t.Fatal(err)
	}
	m := got.Models[1]
	if got.Models[0].Name != "b" || m.Name != "a" || m.Format != "safetensors" || !reflect.DeepEqual(m.Tensors, wantModel.Tensors) ||
		m.Parameters != wantModel.Parameters || m.Bytes != wantModel.Bytes || m.Metadata["total_size"] == "" {
		t.Errorf("inspect gave %s %s %d tensors, want a safetensors with %d", m.Name, m.Format, len(m.Tensors), len(wantModel.Tensors))
	}

	// A folder sent without one of its shards names the missing file.
	var partial []File
	for _, f := range folder {
		if !strings.Contains(f.Name, "model-00002-of-") {
			partial = append(partial, f)
		}
	}
	e.Handle(Request{Type: TypeInspect, ID: "partial"}, partial)
	if msg, ok := h.last(t).(Error); !ok || !strings.Contains(msg.Error.Message, "model-00002-of-") {
		t.Errorf("a missing shard: %#v", h.last(t))
	}
	e.Handle(Request{Type: TypeMerge, ID: "partial", Recipe: text}, append(partial, memFile("b", b)))
	if msg, ok := h.last(t).(Error); !ok || !strings.Contains(msg.Error.Message, "model-00002-of-") {
		t.Errorf("a missing shard: %#v", h.last(t))
	}
}
