package lora_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/dtype"
	"ladle/core/lora"
)

// lowRank returns base + U·V with U [rows, k] and V [k, cols] random: a fine-tune
// whose update has rank k.
func lowRank(base mat, k int, seed uint64) mat {
	rows, cols := base.rows(), base.cols()
	u := random("u."+base.name, dtype.F32, seed, 1, int64(rows), int64(k))
	v := random("v."+base.name, dtype.F32, seed, 0.1, int64(k), int64(cols))
	out := mat{name: base.name, dt: dtype.F32, shape: base.shape, data: make([]float32, len(base.data))}
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			var s float64
			for c := 0; c < k; c++ {
				s += float64(u.data[i*k+c]) * float64(v.data[c*cols+j])
			}
			out.data[i*cols+j] = float32(float64(base.data[i*cols+j]) + s)
		}
	}
	return out
}

func extractFixture(t *testing.T) (dir string, base, ft []mat) {
	dir = t.TempDir()
	w1 := random("layers.0.proj.weight", dtype.F32, 1, 1, 24, 16)
	w2 := random("layers.1.proj.weight", dtype.F32, 1, 1, 10, 24)
	bias := random("layers.1.proj.bias", dtype.F32, 1, 1, 10)
	same := random("layers.1.norm.weight", dtype.F32, 1, 1, 4, 4)
	base = []mat{w1, w2, bias, same}
	b2 := random("layers.1.proj.bias", dtype.F32, 9, 1, 10)
	// layers.0 full rank (a random dense change), layers.1 rank 3.
	d1 := random("layers.0.proj.weight", dtype.F32, 5, 0.05, 24, 16)
	for i := range d1.data {
		d1.data[i] += w1.data[i]
	}
	ft = []mat{d1, lowRank(w2, 3, 7), b2, same}
	writeST(t, filepath.Join(dir, "base.safetensors"), base...)
	writeST(t, filepath.Join(dir, "ft.safetensors"), ft...)
	return dir, base, ft
}

func extract(t *testing.T, dir string, rank int, out string) (*lora.Report, error) {
	t.Helper()
	base, err := ckpt.Open(filepath.Join(dir, "base.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	ft, err := ckpt.Open(filepath.Join(dir, "ft.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer ft.Close()
	return lora.Extract(context.Background(), base, ft, rank, filepath.Join(dir, out), lora.ExtractOptions{BaseName: "base"})
}

// TestExtractFullRank: at full rank the adapter applied to the base gives back the
// fine-tune to 1e-5 relative (Frobenius, per tensor); tensors a LoRA cannot carry are
// reported, and unchanged ones left out.
func TestExtractFullRank(t *testing.T) {
	dir, _, ft := extractFixture(t)
	rep, err := extract(t, dir, 64, "full")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Tensors) != 2 || rep.Tensors[0].Rank != 16 || rep.Tensors[1].Rank != 10 {
		t.Fatalf("report %+v: want two matrices at ranks 16 and 10", rep.Tensors)
	}
	if len(rep.Skipped) != 1 || rep.Skipped[0].Name != "layers.1.proj.bias" {
		t.Errorf("skipped %+v: want the changed bias", rep.Skipped)
	}
	for _, tr := range rep.Tensors {
		if tr.RelError > 1e-6 || tr.Bound > 1e-12 {
			t.Errorf("%s: relative error %g (bound %g) at full rank", tr.Name, tr.RelError, tr.Bound)
		}
	}
	src, err := opener(dir)("base.safetensors+full")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for _, m := range ft[:2] {
		got, _ := readF32(t, src, m.name)
		if e := relFrobenius(got, m.data); e > 1e-5 {
			t.Errorf("%s: relative error %g after applying the full-rank adapter", m.name, e)
		}
	}
	// rank_pattern carries the matrices whose rank is below r, and the config parses.
	cfg, err := os.ReadFile(filepath.Join(dir, "full", "adapter_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := lora.ParseConfig(cfg, "adapter_config.json")
	if err != nil {
		t.Fatal(err)
	}
	if c.R != 64 || c.Rank("layers.0.proj") != 16 || c.Scale("layers.0.proj") != 1 || c.Scale("layers.1.proj") != 1 {
		t.Errorf("config %+v", c)
	}
}

// TestExtractEckartYoung: at rank r the error is the tail of the singular values
// (the best rank-r approximation); a rank-3 change is exact at rank 3.
func TestExtractEckartYoung(t *testing.T) {
	dir, _, _ := extractFixture(t)
	rep, err := extract(t, dir, 3, "r3")
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range rep.Tensors {
		if math.Abs(tr.RelError-tr.Bound) > 1e-6 {
			t.Errorf("%s: error %g, Eckart–Young %g", tr.Name, tr.RelError, tr.Bound)
		}
	}
	if rep.Tensors[0].Bound < 0.1 || rep.Tensors[1].RelError > 1e-6 {
		t.Errorf("report %+v: want a large error for the dense change, none for the rank-3 one", rep.Tensors)
	}
	a, err := ckpt.Open(filepath.Join(dir, "r3", "adapter_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	info, _ := ckpt.Lookup(a, lora.KeyPrefix+"layers.0.proj.lora_A.weight")
	if info.Shape[0] != 3 || info.Shape[1] != 16 {
		t.Errorf("lora_A shape %v, want [3 16]", info.Shape)
	}
}

// TestExtractAtomic: a failed extraction leaves no folder and no partial files; a
// folder that is not an adapter is never replaced; an old adapter is.
func TestExtractAtomic(t *testing.T) {
	dir, base, ft := extractFixture(t)
	ft[1].data[3] = float32(math.NaN())
	writeST(t, filepath.Join(dir, "ft.safetensors"), ft...)
	if _, err := extract(t, dir, 2, "bad"); err == nil || !strings.Contains(err.Error(), "layers.1.proj.weight") {
		t.Errorf("NaN: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("after a failed extraction the folder holds %v", names)
	}
	writeST(t, filepath.Join(dir, "ft.safetensors"), base...)
	if _, err := extract(t, dir, 2, "same"); err == nil || !strings.Contains(err.Error(), "nothing to extract") {
		t.Errorf("no change: %v", err)
	}
	os.Mkdir(filepath.Join(dir, "mine"), 0o755)
	os.WriteFile(filepath.Join(dir, "mine", "notes.txt"), []byte("keep"), 0o644)
	writeST(t, filepath.Join(dir, "ft.safetensors"), lowRank(base[0], 2, 3), base[1], base[2], base[3])
	if _, err := extract(t, dir, 2, "mine"); err == nil || !strings.Contains(err.Error(), "not an adapter folder") {
		t.Errorf("existing folder: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "mine", "notes.txt")); string(b) != "keep" {
		t.Error("the existing folder was touched")
	}
	if _, err := extract(t, dir, 1, "adapter"); err != nil {
		t.Fatal(err)
	}
	if _, err := extract(t, dir, 2, "adapter"); err != nil {
		t.Fatalf("replacing an adapter: %v", err)
	}
	c, _ := os.ReadFile(filepath.Join(dir, "adapter", "adapter_config.json"))
	if cfg, err := lora.ParseConfig(c, "c"); err != nil || cfg.R != 2 {
		t.Errorf("replaced adapter: %v %+v", err, cfg)
	}
}

// FuzzParseConfig: no adapter_config.json makes the parser panic, and what it accepts
// has a usable rank and a finite scale.
func FuzzParseConfig(f *testing.F) {
	f.Add(peftConfig(8, 16, nil))
	f.Add(peftConfig(4, 8, map[string]any{"use_rslora": true, "rank_pattern": map[string]any{"q_proj": 2}, "alpha_pattern": map[string]any{"v_proj": 4}}))
	f.Add([]byte(`{"r": 1e300, "lora_alpha": -0.0}`))
	f.Add([]byte(`{"r": 2, "rank_pattern": {"a": 1, "a": 3}, "target_modules": "q|v"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := lora.ParseConfig(data, "adapter_config.json")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "adapter_config.json: ") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, m := range []string{"q_proj", "model.layers.0.q_proj", ""} {
			if r := c.Rank(m); r < 1 {
				t.Fatalf("rank %d for %q", r, m)
			}
			if s := c.Scale(m); math.IsNaN(s) || math.IsInf(s, 0) {
				t.Fatalf("scale %v for %q", s, m)
			}
		}
	})
}
