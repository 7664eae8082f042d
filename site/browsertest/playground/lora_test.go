package playground

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPlaygroundLoRAAdapters: two LoRA adapters (extracted from the task-arithmetic
// lab's fine-tunes), each chosen as a folder beside their base, are applied to it in
// the form's recipe (BASE+FOLDER), and a task-arithmetic merge of them downloads byte
// for byte what `ladle merge` gives for the same recipe over the same files.
func TestPlaygroundLoRAAdapters(t *testing.T) {
	dir := adaptersBeside(t, 8, "low", "high")
	b := openPage(t)
	setFiles(t, b, []string{filepath.Join(dir, "base.safetensors")})
	waitFor(t, b, modelsListed([]string{"base.safetensors"}), 30*time.Second)
	// One folder at a time, as a person chooses them: Chromium lists a chosen folder's
	// files asynchronously, and a second folder set on the input while the first is
	// still being listed can drop both (seen on a loaded machine), which is the test
	// racing the browser, not the page losing a folder.
	listed := []string{"base.safetensors"}
	for _, task := range []string{"low", "high"} {
		if err := b.SetFiles(`#folder-input`, []string{filepath.Join(dir, "lora-"+task)}); err != nil {
			t.Fatal(err)
		}
		listed = append(listed, "lora-"+task)
		waitFor(t, b, modelsListed(listed), 30*time.Second)
	}
	list := eval[string](t, b, `document.querySelector('[data-testid=model-list]').textContent`)
	if strings.Contains(list, "adapter_config.json") || strings.Contains(list, "adapter_model") {
		t.Errorf("the model list shows the adapter folders' files, not the adapters:\n%s", list)
	}
	// The form applies each adapter to the base.
	eval[bool](t, b, `(() => { const s = document.querySelector('[data-testid=method-select]'); s.value = 'task_arithmetic'; s.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`)
	waitFor(t, b, editorText+`.includes('base.safetensors+lora-low') && `+editorText+`.includes('base.safetensors+lora-high') && `+runEnabled, 20*time.Second)

	const text = "merge_method: task_arithmetic\nbase_model: base.safetensors\nmodels:\n" +
		"  - model: base.safetensors+lora-low\n    parameters: {weight: 1.0}\n" +
		"  - model: base.safetensors+lora-high\n    parameters: {weight: 0.8}\nparameters: {lambda: 0.9}\n"
	typeRecipe(t, b, text)
	waitFor(t, b, runEnabled, 10*time.Second)
	click(t, b, "run")
	waitFor(t, b, hasResult+" || "+errorVisible, 60*time.Second)
	if eval[bool](t, b, errorVisible) {
		t.Fatalf("the merge failed\n%s", pageState(b))
	}
	got := download(t, b)
	if want := nativeMerge(t, dir, text); !bytes.Equal(got, want) {
		t.Fatalf("the page's merge of LoRA adapters (%d bytes) differs from the native merge (%d bytes)", len(got), len(want))
	}
}
