package engine

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
	"ladle/core/lora"
	"ladle/core/plan"
)

// adapterFiles returns a PEFT adapter folder of rank 4 for layers.0 and layers.1 of
// the test layout, its files named "name/<file>" as a folder pick names them.
func adapterFiles(t *testing.T, name string, seed uint64) []File {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 9))
	var infos []ckpt.Info
	var data [][]byte
	for _, m := range []struct {
		module  string
		out, in int64
	}{{"layers.0", 32, 16}, {"layers.1", 64, 32}} {
		for _, f := range []struct {
			suffix string
			shape  []int64
		}{{".lora_A.weight", []int64{4, m.in}}, {".lora_B.weight", []int64{m.out, 4}}} {
			info := ckpt.Info{Name: lora.KeyPrefix + m.module + f.suffix, DType: dtype.F32, Shape: f.shape}
			v := make([]float32, info.NumElements())
			for i := range v {
				v[i] = float32(rng.NormFloat64() * 0.1)
			}
			b := make([]byte, info.Bytes())
			dtype.EncodeF32(b, v, dtype.F32)
			infos, data = append(infos, info), append(data, b)
		}
	}
	var buf bytes.Buffer
	w, err := safetensors.NewWriter(&buf, infos, map[string]string{"format": "pt"})
	if err != nil {
		t.Fatal(err)
	}
	for i, info := range infos {
		if err := w.WriteTensor(info.Name, data[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	config := `{"peft_type": "LORA", "r": 4, "lora_alpha": 8, "use_rslora": false, "fan_in_fan_out": false,
		"target_modules": ["layers.0", "layers.1"], "base_model_name_or_path": "b", "bias": "none"}`
	return []File{memFile(name+"/adapter_config.json", []byte(config)), memFile(name+"/adapter_model.safetensors", buf.Bytes())}
}

// TestAdapterFolderMergesAsNatively: an adapter folder sent beside its base and named
// BASE+FOLDER in a recipe merges byte for byte as `ladle merge` over the same files on
// disk, whole or split over workers; inspect describes the folder as one adapter.
func TestAdapterFolderMergesAsNatively(t *testing.T) {
	a, b := model(t, layers, 1), model(t, layers, 2)
	adapter := adapterFiles(t, "lora-a", 3)
	dir := writeFiles(t, map[string][]byte{"a": a, "b": b})
	os.Mkdir(filepath.Join(dir, "lora-a"), 0o755)
	for _, f := range adapter {
		raw := make([]byte, f.Size)
		f.R.ReadAt(raw, 0)
		if err := os.WriteFile(filepath.Join(dir, f.Name), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const text = "merge_method: task_arithmetic\nbase_model: b\nmodels:\n  - model: b+lora-a\n  - model: a\n    parameters: {weight: 0.5}\n"
	want := native(t, dir, text, plan.Options{})
	files := append([]File{memFile("a", a), adapter[1], memFile("b", b)}, adapter[0])

	h := newHost()
	e := New(h.env())
	e.Handle(Request{Type: TypeMerge, ID: "m", Recipe: text}, files)
	done, ok := h.last(t).(Done)
	if !ok {
		t.Fatalf("merge: %#v", h.last(t))
	}
	if !bytes.Equal(done.Blob.([]byte), want) {
		t.Fatal("the page's merge of base+adapter differs from the native merge")
	}
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
		t.Error("the split merge of base+adapter differs")
	}

	e.Handle(Request{Type: TypeInspect, ID: "i"}, adapter)
	got, ok := h.last(t).(Inspected)
	if !ok || len(got.Models) != 1 {
		t.Fatalf("inspect: %#v", h.last(t))
	}
	m := got.Models[0]
	if m.Name != "lora-a" || m.Format != AdapterFormat || len(m.Tensors) != 4 || m.Metadata["lora.r"] != "4" || m.Metadata["lora.modules"] != "2" {
		t.Errorf("inspect: %+v", m)
	}

	// A broken adapter is reported with its file and key, at inspect and at merge.
	bad := adapterFiles(t, "lora-a", 3)
	bad[0] = memFile("lora-a/adapter_config.json", []byte(`{"peft_type": "LORA", "r": 8}`))
	e.Handle(Request{Type: TypeInspect, ID: "bad"}, bad)
	if msg, ok := h.last(t).(Error); !ok || !strings.Contains(msg.Error.Message, "r = 8") {
		t.Errorf("a rank mismatch at inspect: %#v", h.last(t))
	}
	e.Handle(Request{Type: TypeMerge, ID: "bad", Recipe: text}, append([]File{memFile("a", a), memFile("b", b)}, bad...))
	if msg, ok := h.last(t).(Error); !ok || !strings.Contains(msg.Error.Message, "lora_A.weight") {
		t.Errorf("a rank mismatch at merge: %#v", h.last(t))
	}
	e.Handle(Request{Type: TypeMerge, ID: "missing", Recipe: strings.Replace(text, "b+lora-a", "b+lora-z", 1)}, files)
	if msg, ok := h.last(t).(Error); !ok || !strings.Contains(msg.Error.Message, "adapter_config.json") {
		t.Errorf("a missing adapter: %#v", h.last(t))
	}
}
