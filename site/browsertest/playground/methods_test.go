package playground

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
	"ladle/site/browsertest"
)

// writeDecoder writes a tiny decoder stack with Llama's tensor names (so that
// `slices:` finds its layers): shared base values plus this model's own noise.
func writeDecoder(t *testing.T, path string, layers int, seed uint64) {
	t.Helper()
	var infos []ckpt.Info
	add := func(n string, shape ...int64) {
		infos = append(infos, ckpt.Info{Name: n, DType: dtype.F32, Shape: shape})
	}
	add("model.embed_tokens.weight", 24, 8)
	for l := range layers {
		p := fmt.Sprintf("model.layers.%d.", l)
		add(p+"input_layernorm.weight", 8)
		add(p+"mlp.down_proj.weight", 8, 12)
		add(p+"self_attn.q_proj.weight", 8, 8)
	}
	add("model.norm.weight", 8)
	add("lm_head.weight", 24, 8)
	err := safetensors.WriteFile(path, infos, map[string]string{"format": "pt"}, func(w *safetensors.Writer) error {
		for _, info := range infos {
			rb := rand.New(rand.NewPCG(1, uint64(len(info.Name))))
			rs := rand.New(rand.NewPCG(seed, uint64(len(info.Name))))
			b := make([]byte, info.Bytes())
			for i := 0; i < len(b); i += 4 {
				binary.LittleEndian.PutUint32(b[i:], math.Float32bits(float32(rb.NormFloat64()*0.1+rs.NormFloat64()*0.02)))
			}
			if err := w.WriteTensor(info.Name, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPlaygroundNewMethodsAndSlices: the form offers the round-2 methods with their
// papers (the form comes from the registry), and recipes with `slices:` (a passthrough
// frankenmerge, and a karcher merge of layer ranges) and an SVD method run in the page
// and download byte for byte what `ladle merge` writes.
func TestPlaygroundNewMethodsAndSlices(t *testing.T) {
	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "a.safetensors"), filepath.Join(dir, "b.safetensors"), filepath.Join(dir, "c.safetensors")}
	writeDecoder(t, paths[0], 6, 10)
	writeDecoder(t, paths[1], 6, 20)
	writeDecoder(t, paths[2], 6, 30)
	b := openPage(t)
	for name, paper := range map[string]string{
		"pcb": "2410.02396", "tsv_merge": "2412.00081", "iso_c": "2502.04959", "iso_cts": "2502.04959", "karcher": "cpa.3160300502",
		"nuslerp": "2403.13257", "multislerp": "502122.502124", "sce": "2408.07990", "passthrough": "2403.13257",
	} {
		if !eval[bool](t, b, fmt.Sprintf(`[...document.querySelectorAll('[data-testid=method-select] option')].some(o => o.value === %q)`, name)) {
			t.Errorf("the method picker does not offer %s", name)
			continue
		}
		eval[bool](t, b, fmt.Sprintf(`(() => { const s = document.querySelector('[data-testid=method-select]'); s.value = %q; s.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`, name))
		waitFor(t, b, fmt.Sprintf(`[...document.querySelectorAll('a')].some(a => a.href.includes(%q))`, paper), 10*time.Second)
	}
	setFiles(t, b, paths)
	waitFor(t, b, modelsListed(paths), 30*time.Second)
	for _, text := range []string{
		`slices:
  - sources:
    - model: a.safetensors
      layer_range: [0, 4]
  - sources:
    - model: b.safetensors
      layer_range: [2, 6]
      parameters:
        scale: [{filter: down_proj, value: 0.5}, {value: 1}]
merge_method: passthrough
dtype: float16
`,
		`slices:
  - sources:
      - {model: a.safetensors, layer_range: [0, 3]}
      - {model: b.safetensors, layer_range: [3, 6]}
      - {model: c.safetensors, layer_range: [0, 3]}
merge_method: karcher
`,
		"merge_method: tsv_merge\nbase_model: a.safetensors\nmodels: [b.safetensors, c.safetensors]\nparameters: {lambda: 0.8}\n",
	} {
		typeRecipe(t, b, text)
		waitFor(t, b, runEnabled, 10*time.Second)
		click(t, b, "run")
		waitFor(t, b, hasResult+" || "+errorVisible, 60*time.Second)
		if eval[bool](t, b, errorVisible) {
			t.Fatalf("the merge failed\n%s\n%s", pageState(b), text)
		}
		got := download(t, b)
		if want := nativeMerge(t, dir, text); !bytes.Equal(got, want) {
			t.Fatalf("the page's merge (%d bytes) differs from the native merge (%d bytes) for\n%s", len(got), len(want), text)
		}
		// every worker took a part (slices too: split by output tensor)
		if workers, pool := eval[string](t, b, `document.querySelector('[data-testid=status]').dataset.workers`), eval[int](t, b, `Math.min(navigator.hardwareConcurrency, 4)`); pool > 1 && workers != fmt.Sprint(pool) {
			t.Errorf("the merge ran on %s of %d workers:\n%s", workers, pool, text)
		}
	}
}

// selectValue sets a <select> (by data-testid) as a person's pick does: value, then a
// change event.
func selectValue(t *testing.T, b *browsertest.Browser, testid, value string) {
	t.Helper()
	if !eval[bool](t, b, fmt.Sprintf(`(() => { const s = document.querySelector('[data-testid=%s]'); if (!s || ![...s.options].some(o => o.value === %q)) return false;
		s.value = %[2]q; s.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`, testid, value)) {
		t.Fatalf("the %s picker offers no %q\n%s", testid, value, pageState(b))
	}
}

// TestPlaygroundOptionalBase: methods whose registry entry declares an optional base
// (nuslerp here) get a base picker with "no base" as its first choice; the form writes
// base_model only when one is picked, and the page's merge with and without a base
// equals `ladle merge` of the recipe the form wrote, byte for byte.
func TestPlaygroundOptionalBase(t *testing.T) {
	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "base.safetensors"), filepath.Join(dir, "a.safetensors"), filepath.Join(dir, "b.safetensors")}
	for i, p := range paths {
		writeDecoder(t, p, 3, uint64(40+i))
	}
	b := openPage(t)
	setFiles(t, b, paths)
	waitFor(t, b, modelsListed(paths), 30*time.Second)
	selectValue(t, b, "method-select", "nuslerp")
	waitFor(t, b, `document.querySelector('[data-testid=base-select]') !== null`, 10*time.Second)
	if got := eval[string](t, b, `document.querySelector('[data-testid=base-select]').value`); got != "" {
		t.Errorf("nuslerp picked the base %q by itself", got)
	}
	if first := eval[string](t, b, `document.querySelector('[data-testid=base-select] option').textContent`); first != "No base model" {
		t.Errorf("the base picker's first choice reads %q", first)
	}
	// Three models and no base: nuslerp takes two.
	waitFor(t, b, `document.querySelector('[data-testid=run]').disabled`, 10*time.Second)
	selectValue(t, b, "base-select", "base.safetensors")
	waitFor(t, b, editorText+`.includes('base_model: base.safetensors')`, 10*time.Second)
	runAndCompare := func(what string) {
		t.Helper()
		waitFor(t, b, runEnabled, 10*time.Second)
		text := eval[string](t, b, editorText)
		click(t, b, "run")
		waitFor(t, b, hasResult+" || "+errorVisible, 60*time.Second)
		if eval[bool](t, b, errorVisible) {
			t.Fatalf("%s: the merge failed\n%s\n%s", what, pageState(b), text)
		}
		got := download(t, b)
		if want := nativeMerge(t, dir, text); !bytes.Equal(got, want) {
			t.Fatalf("%s: the page's merge (%d bytes) differs from the native merge (%d bytes) for\n%s", what, len(got), len(want), text)
		}
	}
	runAndCompare("with a base")
	withBase := download(t, b)
	// No base: the former base becomes a model; leave it out to merge a and b alone.
	selectValue(t, b, "base-select", "")
	eval[bool](t, b, `(() => { const c = document.querySelector('[data-testid=model-list] [data-model="base.safetensors"] input[type=checkbox]'); c.click(); return true; })()`)
	waitFor(t, b, `!`+editorText+`.includes('base')`, 10*time.Second)
	runAndCompare("without a base")
	if bytes.Equal(download(t, b), withBase) {
		t.Error("the merges with and without a base are the same")
	}
}
