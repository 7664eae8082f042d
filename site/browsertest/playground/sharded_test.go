package playground

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ladle/core/ckpt/ckpttest"
	"ladle/core/ckpt/safetensors"
)

// shardFixture writes a safetensors file as a sharded checkpoint (several shards,
// model.safetensors.index.json and a config.json, as a Hugging Face folder holds) in
// the folder dir/name.
func shardFixture(t *testing.T, src, dir, name string) {
	t.Helper()
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	r, err := safetensors.Open(bytes.NewReader(raw), int64(len(raw)), src)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	sw, err := safetensors.NewShardedWriter(out, "model", r.Tensors(), r.Metadata(), 64<<10)
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
	if err := os.WriteFile(filepath.Join(out, "config.json"), []byte(`{"model_type": "mnist"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(out); len(entries) < 4 {
		t.Fatalf("the folder holds %d files; want several shards, an index and a config", len(entries))
	}
}

// TestPlaygroundShardedFolder: a sharded safetensors folder chosen on the folder
// picker is one model named after the folder, and a merge with it downloads byte for
// byte the native merge of the same recipe over the folder.
func TestPlaygroundShardedFolder(t *testing.T) {
	dir := t.TempDir()
	shardFixture(t, ckpttest.Fixture(t, filepath.Join("burn-mnist", "run-c.safetensors")), dir, "mymodel")
	other, err := os.ReadFile(ckpttest.Fixture(t, filepath.Join("burn-mnist", "run-a.pt")))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "run-a.pt"), other, 0o644); err != nil {
		t.Fatal(err)
	}
	b := openPage(t)
	if err := b.SetFiles(`#folder-input`, []string{filepath.Join(dir, "mymodel")}); err != nil {
		t.Fatal(err)
	}
	setFiles(t, b, []string{filepath.Join(dir, "run-a.pt")})
	waitFor(t, b, modelsListed([]string{"mymodel", "run-a.pt"})+" && "+runEnabled, 30*time.Second)
	for _, want := range []string{"2 models share all 20 tensors"} {
		if !eval[bool](t, b, fmt.Sprintf(`document.body.textContent.includes(%q)`, want)) {
			t.Errorf("the page does not say %q\n%s", want, pageState(b))
		}
	}
	list := eval[string](t, b, `document.querySelector('[data-testid=model-list]').textContent`)
	if strings.Contains(list, "model-00001") || strings.Contains(list, "index.json") || strings.Contains(list, "config.json") {
		t.Errorf("the model list shows the folder's files, not one model:\n%s", list)
	}
	if eval[bool](t, b, `document.body.textContent.includes('sharded checkpoint')`) {
		t.Errorf("the page still refuses sharded folders\n%s", pageState(b))
	}
	const text = "merge_method: linear\nmodels:\n  - model: mymodel\n  - model: run-a.pt\n    parameters: {weight: 2.0}\nparameters: {normalize: true}\n"
	typeRecipe(t, b, text)
	click(t, b, "run")
	waitFor(t, b, hasResult+" || "+errorVisible, 60*time.Second)
	if eval[bool](t, b, errorVisible) {
		t.Fatalf("the merge failed\n%s", pageState(b))
	}
	got := download(t, b)
	if want := nativeMerge(t, dir, text); !bytes.Equal(got, want) {
		t.Fatalf("the page's merge of the sharded folder (%d bytes) differs from the native merge (%d bytes)", len(got), len(want))
	}
}
