package lora_test

import (
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/dtype"
	"ladle/core/lora"
)

// opener opens BASE+DIR from disk as the command does.
func opener(dir string) func(string) (ckpt.Source, error) {
	return lora.Opener(func(p string) (ckpt.Source, error) {
		return ckpt.Open(filepath.Join(dir, p))
	}, func(p string) ([]byte, error) {
		return os.ReadFile(filepath.Join(dir, p))
	})
}

// fixture is a base of two linear layers (fc1 F32, fc2 BF16) with biases and an
// integer tensor, and a rank-r adapter of both layers.
type fixture struct {
	dir            string
	base           []mat
	a1, b1, a2, b2 mat
}

func newFixture(t *testing.T, r int, config []byte, fifo, torch bool) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	w1 := random("fc1.weight", dtype.F32, 1, 1, 7, 5)
	w2 := random("fc2.weight", dtype.BF16, 1, 1, 3, 7)
	if fifo { // GPT-2's Conv1D stores [in, out]
		w1 = random("fc1.weight", dtype.F32, 1, 1, 5, 7)
		w2 = random("fc2.weight", dtype.BF16, 1, 1, 7, 3)
	}
	f.base = []mat{w1, random("fc1.bias", dtype.F32, 1, 1, 7), w2, random("fc2.bias", dtype.F32, 1, 1, 3)}
	writeST(t, filepath.Join(f.dir, "base.safetensors"), f.base...)
	p := lora.KeyPrefix
	f.a1 = random(p+"fc1.lora_A.weight", dtype.F32, 2, 0.5, int64(r), 5)
	f.b1 = random(p+"fc1.lora_B.weight", dtype.F32, 2, 0.5, 7, int64(r))
	f.a2 = random(p+"fc2.lora_A.weight", dtype.BF16, 2, 0.5, int64(r), 7)
	f.b2 = random(p+"fc2.lora_B.weight", dtype.BF16, 2, 0.5, 3, int64(r))
	writeAdapter(t, filepath.Join(f.dir, "adapter"), config, torch, f.a1, f.b1, f.a2, f.b2)
	return f
}

func (f *fixture) check(t *testing.T, s1, s2 float64, fifo bool) {
	t.Helper()
	src, err := opener(f.dir)("base.safetensors+adapter")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if got := src.Path(); !strings.HasSuffix(got, "base.safetensors+adapter") {
		t.Errorf("Path %q", got)
	}
	want := map[string][]float32{
		"fc1.weight": dense(f.base[0], f.a1, f.b1, s1, fifo),
		"fc2.weight": dense(f.base[2], f.a2, f.b2, s2, fifo),
		"fc1.bias":   f.base[1].data,
		"fc2.bias":   f.base[3].data,
	}
	var names []string
	for _, info := range src.Tensors() {
		names = append(names, info.Name)
		got, info := readF32(t, src, info.Name)
		if strings.HasSuffix(info.Name, ".weight") && info.DType != dtype.F32 {
			t.Errorf("%s: adapted tensor is %s, want F32 (unrounded)", info.Name, info.DType)
		}
		if !slices.Equal(got, want[info.Name]) {
			t.Errorf("%s: %v\nwant %v", info.Name, got, want[info.Name])
		}
	}
	if !slices.Equal(names, []string{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}) {
		t.Errorf("tensors %v: want the base's order", names)
	}
}

// TestApplyEqualsDense: a PEFT-layout adapter equals the dense W + s·B·A, bit for bit
// against the naive reference, with s = lora_alpha / r.
func TestApplyEqualsDense(t *testing.T) {
	f := newFixture(t, 3, peftConfig(3, 6, nil), false, false)
	f.check(t, 2, 2, false)
}

// TestApplyRSLoRA: use_rslora scales by lora_alpha / √r.
func TestApplyRSLoRA(t *testing.T) {
	f := newFixture(t, 4, peftConfig(4, 6, map[string]any{"use_rslora": true}), false, false)
	f.check(t, 3, 3, false)
}

// TestApplyFanInFanOut: with fan_in_fan_out W is stored [in, out] and takes (B·A)ᵀ.
func TestApplyFanInFanOut(t *testing.T) {
	f := newFixture(t, 2, peftConfig(2, 2, map[string]any{"fan_in_fan_out": true}), true, false)
	f.check(t, 1, 1, true)
}

// TestApplyPatterns: rank_pattern and alpha_pattern override r and lora_alpha for the
// modules they match (equal, or ending with ".key"); the first matching key wins.
func TestApplyPatterns(t *testing.T) {
	cfg := []byte(`{"peft_type": "LORA", "r": 8, "lora_alpha": 16,
		"rank_pattern": {"c2": 4, "fc2": 2, "fc": 5},
		"alpha_pattern": {"fc2": 3, "model.fc2": 100}}`)
	f := &fixture{dir: t.TempDir()}
	f.base = []mat{random("fc1.weight", dtype.F32, 1, 1, 7, 5), random("fc1.bias", dtype.F32, 1, 1, 7),
		random("fc2.weight", dtype.BF16, 1, 1, 3, 7), random("fc2.bias", dtype.F32, 1, 1, 3)}
	writeST(t, filepath.Join(f.dir, "base.safetensors"), f.base...)
	p := lora.KeyPrefix
	f.a1 = random(p+"fc1.lora_A.weight", dtype.F32, 2, 0.5, 8, 5) // r = 8: "fc" does not match "fc1"
	f.b1 = random(p+"fc1.lora_B.weight", dtype.F32, 2, 0.5, 7, 8)
	f.a2 = random(p+"fc2.lora_A.weight", dtype.F32, 2, 0.5, 2, 7) // "c2" does not match: only after a dot
	f.b2 = random(p+"fc2.lora_B.weight", dtype.F32, 2, 0.5, 3, 2)
	writeAdapter(t, filepath.Join(f.dir, "adapter"), cfg, false, f.a1, f.b1, f.a2, f.b2)
	f.check(t, 16.0/8, 3.0/2, false)
}

// TestApplyTorchBin: adapter_model.bin (torch.save's zip) is read when there is no
// safetensors file.
func TestApplyTorchBin(t *testing.T) {
	f := newFixture(t, 3, peftConfig(3, 6, nil), false, true)
	// torchZip stores float32: the BF16 factors' values are exact there.
	f.check(t, 2, 2, false)
}

// TestStreamingReads: any byte range, read from many goroutines at once, equals the
// same bytes of a whole read.
func TestStreamingReads(t *testing.T) {
	f := newFixture(t, 3, peftConfig(3, 6, nil), false, false)
	src, err := opener(f.dir)("base.safetensors+adapter")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	whole, err := ckpt.ReadAll(src, "fc1.weight")
	if err != nil {
		t.Fatal(err)
	}
	r, err := src.Tensor("fc1.weight")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for off := 0; off < len(whole); off++ {
		for _, n := range []int{1, 3, 4, 9, len(whole)} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, n)
				got, err := r.ReadAt(buf, int64(off))
				want := min(n, len(whole)-off)
				if got != want || (err != nil && !(err == io.EOF && got < n)) || !slices.Equal(buf[:got], whole[off:off+got]) {
					t.Errorf("ReadAt(%d bytes, %d) = %d, %v", n, off, got, err)
				}
			}()
		}
	}
	wg.Wait()
}

// TestAdapterErrors: every key Ladle does not apply, and every disagreement between
// the adapter, its config and the base, is an error naming the file and the key.
func TestAdapterErrors(t *testing.T) {
	p := lora.KeyPrefix
	a := random(p+"fc1.lora_A.weight", dtype.F32, 2, 1, 2, 5)
	b := random(p+"fc1.lora_B.weight", dtype.F32, 2, 1, 7, 2)
	base := []mat{random("fc1.weight", dtype.F32, 1, 1, 7, 5), random("fc1.bias", dtype.F32, 1, 1, 7)}
	cases := []struct {
		name   string
		config []byte
		ms     []mat
		want   string
	}{
		{"embedding", peftConfig(2, 2, nil), []mat{a, b, random(p+"emb.lora_embedding_A", dtype.F32, 1, 1, 2, 4)}, "lora_embedding_A"},
		{"dora vector", peftConfig(2, 2, nil), []mat{a, b, random(p+"fc1.lora_magnitude_vector", dtype.F32, 1, 1, 7)}, "DoRA"},
		{"bias", peftConfig(2, 2, nil), []mat{a, b, random(p+"fc1.bias", dtype.F32, 1, 1, 7)}, "biases"},
		{"modules_to_save", peftConfig(2, 2, nil), []mat{a, b, random(p+"head.modules_to_save.default.weight", dtype.F32, 1, 1, 2, 2)}, "modules_to_save"},
		{"no prefix", peftConfig(2, 2, nil), []mat{a, b, random("fc1.lora_A.weight", dtype.F32, 1, 1, 2, 5)}, "base_model.model."},
		{"no partner", peftConfig(2, 2, nil), []mat{a}, "no partner"},
		{"no A", peftConfig(2, 2, nil), []mat{b}, "no partner"},
		{"rank vs config", peftConfig(4, 2, nil), []mat{a, b}, "r = 4"},
		{"rank A vs B", peftConfig(2, 2, nil), []mat{a, random(p+"fc1.lora_B.weight", dtype.F32, 2, 1, 7, 3)}, "the rank"},
		{"not in base", peftConfig(2, 2, nil), []mat{random(p+"fc9.lora_A.weight", dtype.F32, 2, 1, 2, 5), random(p+"fc9.lora_B.weight", dtype.F32, 2, 1, 7, 2)}, `no tensor "fc9.weight"`},
		{"shape", peftConfig(2, 2, nil), []mat{random(p+"fc1.lora_A.weight", dtype.F32, 2, 1, 2, 6), b}, "another model"},
		{"fifo shape", peftConfig(2, 2, map[string]any{"fan_in_fan_out": true}), []mat{a, b}, "fan_in_fan_out"},
		{"conv", peftConfig(2, 2, nil), []mat{{name: p + "fc1.lora_A.weight", dt: dtype.F32, shape: []int64{2, 5, 1, 1}, data: make([]float32, 10)}, b}, "2-D"},
		{"empty", peftConfig(2, 2, nil), []mat{random("other", dtype.F32, 1, 1, 2)}, "base_model.model."},
		{"dora config", peftConfig(2, 2, map[string]any{"use_dora": true}), []mat{a, b}, "use_dora"},
		{"ia3", peftConfig(2, 2, map[string]any{"peft_type": "IA3"}), []mat{a, b}, "peft_type"},
		{"no r", []byte(`{"peft_type": "LORA"}`), []mat{a, b}, "r: missing"},
		{"bad r", peftConfig(0, 2, nil), []mat{a, b}, "not a rank"},
		{"bad pattern", peftConfig(2, 2, map[string]any{"rank_pattern": map[string]any{"fc1": 1.5}}), []mat{a, b}, "rank_pattern"},
		{"not json", []byte(`{"r": 2,`), []mat{a, b}, "adapter_config.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeST(t, filepath.Join(dir, "base.safetensors"), base...)
			writeAdapter(t, filepath.Join(dir, "adapter"), c.config, false, c.ms...)
			src, err := opener(dir)("base.safetensors+adapter")
			if err == nil {
				src.Close()
				t.Fatalf("no error, want one mentioning %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "adapter") {
				t.Errorf("error %q: want it to mention %q and the adapter", err, c.want)
			}
		})
	}
}

// TestOpenerNames: a name without '+' opens as it is; a folder without
// adapter_config.json is named in the error; a file whose name holds a '+' still
// opens; an adapter folder without weights says which files it looked for.
func TestOpenerNames(t *testing.T) {
	dir := t.TempDir()
	base := []mat{random("fc1.weight", dtype.F32, 1, 1, 7, 5)}
	writeST(t, filepath.Join(dir, "base.safetensors"), base...)
	writeST(t, filepath.Join(dir, "a+b.safetensors"), base...)
	open := opener(dir)
	for _, name := range []string{"base.safetensors", "a+b.safetensors"} {
		src, err := open(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		src.Close()
	}
	if err := os.Mkdir(filepath.Join(dir, "plain"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := open("base.safetensors+plain")
	if err == nil || !strings.Contains(err.Error(), "adapter_config.json") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("folder without config: %v", err)
	}
	writeAdapter(t, filepath.Join(dir, "noweights"), peftConfig(2, 2, nil), false)
	os.Remove(filepath.Join(dir, "noweights", "adapter_model.safetensors"))
	_, err = open("base.safetensors+noweights")
	if err == nil || !strings.Contains(err.Error(), "adapter_model.bin") {
		t.Errorf("folder without weights: %v", err)
	}
	_, err = open("missing.safetensors+noweights")
	if err == nil || !strings.Contains(err.Error(), "missing.safetensors") {
		t.Errorf("missing base: %v", err)
	}
}

// TestScale: s = lora_alpha / r, or / √r with use_rslora.
func TestScale(t *testing.T) {
	c, err := lora.ParseConfig(peftConfig(16, 32, map[string]any{"use_rslora": true}), "c.json")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Scale("m"); got != 8 {
		t.Errorf("rslora scale %v, want 32/√16 = 8", got)
	}
	c.UseRSLoRA = false
	if got := c.Scale("m"); got != 2 {
		t.Errorf("scale %v, want 2", got)
	}
	if c, _ := lora.ParseConfig([]byte(`{"r": 4}`), "c.json"); c.Alpha != 8 || math.Abs(c.Scale("m")-2) > 0 {
		t.Errorf("default lora_alpha: %+v", c)
	}
}
