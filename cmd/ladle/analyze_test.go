package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

func TestAnalyzeCommand(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i, n := range []string{"base", "a", "b"} {
		p := filepath.Join(dir, n+".safetensors")
		writeToyModel(t, p, uint64(i+1), false)
		paths = append(paths, p)
	}
	code, out, stderr := runCLI(t, "analyze", "--base", paths[0], paths[1], paths[2], "--density", "0.5", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// the contract's keys, exactly
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw) != 3 || raw["models"] == nil || raw["cosine"] == nil || raw["tensors"] == nil {
		t.Errorf("top-level keys: %s", out)
	}
	var res struct {
		Models  []string
		Cosine  [][]float64
		Tensors []map[string]json.RawMessage
	}
	json.Unmarshal([]byte(out), &res)
	if len(res.Models) != 2 || res.Models[0] != paths[1] {
		t.Errorf("models %v", res.Models)
	}
	for i := range 2 {
		if math.Abs(res.Cosine[i][i]-1) > 1e-12 {
			t.Errorf("cosine[%d][%d] = %v, want 1", i, i, res.Cosine[i][i])
		}
	}
	if res.Cosine[0][1] != res.Cosine[1][0] || math.Abs(res.Cosine[0][1]) >= 1 {
		t.Errorf("cosine %v", res.Cosine)
	}
	if len(res.Tensors) != 4 {
		t.Fatalf("%d tensors, want the toy model's 4", len(res.Tensors))
	}
	for _, tt := range res.Tensors {
		for _, k := range []string{"name", "norms", "sign_conflict", "ties_agree"} {
			if tt[k] == nil {
				t.Errorf("tensor without %q: %v", k, tt)
			}
		}
		if len(tt) != 4 {
			t.Errorf("tensor keys %v", tt)
		}
	}

	code, out, _ = runCLI(t, "analyze", "--base", paths[0], paths[1], paths[2])
	if code != 0 || !strings.Contains(out, "cosine") || !strings.Contains(out, "fc1.weight") {
		t.Errorf("text output (exit %d):\n%s", code, out)
	}
	for _, args := range [][]string{
		{"analyze", paths[1]},
		{"analyze", "--base", paths[0]},
		{"analyze", "--base", paths[0], paths[1], "--density", "2"},
	} {
		if code, _, _ := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, stderr := runCLI(t, "analyze", "--base", paths[0], filepath.Join(dir, "missing.safetensors")); code != 1 || !strings.Contains(stderr, "missing.safetensors") {
		t.Errorf("missing model: exit %d, %s", code, stderr)
	}
}
