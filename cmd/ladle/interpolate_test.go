package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ladle/core/eval"
)

func TestInterpolateCommand(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.safetensors"), filepath.Join(dir, "b.safetensors")
	writeToyModel(t, a, 3, true)
	writeToyModel(t, b, 4, false) // read with A's arch
	data := toyData(t, dir)
	code, stdout, stderr := runCLI(t, "interpolate", a, b, "--data", data, "--points", "11", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var c eval.Curve
	if err := json.Unmarshal([]byte(stdout), &c); err != nil {
		t.Fatalf("%q: %v", stdout, err)
	}
	if len(c.Points) != 11 || c.Points[0].Alpha != 0 || c.Points[10].Alpha != 1 || c.Barrier < 0 || math.IsNaN(c.Barrier) {
		t.Fatalf("curve %+v", c)
	}
	// The ends are the two models as `ladle eval` scores them.
	archFile := filepath.Join(dir, "arch.json")
	if err := os.WriteFile(archFile, []byte(toyArch), 0o644); err != nil {
		t.Fatal(err)
	}
	ra := evalJSON(t, a, "--data", data)
	rb := evalJSON(t, b, "--arch", archFile, "--data", data)
	if c.Points[0].Loss != ra.Loss || c.Points[0].Accuracy != ra.Accuracy || c.Points[10].Loss != rb.Loss || c.Points[10].Accuracy != rb.Accuracy {
		t.Errorf("ends %+v %+v, eval says %+v %+v", c.Points[0], c.Points[10], ra, rb)
	}
	if bar, _ := eval.Barrier(c.Points); bar != c.Barrier {
		t.Errorf("barrier %v, recomputed %v", c.Barrier, bar)
	}
	code, stdout, _ = runCLI(t, "interpolate", a, b, "--data", data)
	if code != 0 || strings.Count(stdout, "\n") != 23 || !strings.Contains(stdout, "loss barrier") {
		t.Errorf("readable output (21 points by default): exit %d\n%s", code, stdout)
	}

	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"interpolate", a, "--data", data}, 2, "two model"},
		{[]string{"interpolate", a, b, "--data", data, "--points", "5"}, 2, "at least 11"},
		{[]string{"interpolate", a, b}, 2, "--data"},
		{[]string{"interpolate", b, a, "--data", data}, 1, "b.safetensors"}, // B carries no arch
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
}
