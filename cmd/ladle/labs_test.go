package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ladle/core/labs"
)

func TestLabsBuild(t *testing.T) {
	dir := t.TempDir()
	// One lab keeps the test quick; core/labs builds and checks all of them.
	code, stdout, stderr := runCLI(t, "labs", "build", "--out", dir, "--lab", "task-arithmetic")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	for _, want := range []string{"task-arithmetic: wrote", "negate_target_drop_points", "holds:", "index.json"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "DOES NOT HOLD") {
		t.Errorf("a claim fails:\n%s", stdout)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx []labs.IndexEntry
	if err := json.Unmarshal(raw, &idx); err != nil || len(idx) != len(labs.All()) {
		t.Errorf("index.json: %v, %d entries", err, len(idx))
	}
	raw, err = os.ReadFile(filepath.Join(dir, "task-arithmetic", "lab.json"))
	if err != nil {
		t.Fatal(err)
	}
	var lab labs.Lab
	if err := json.Unmarshal(raw, &lab); err != nil {
		t.Fatal(err)
	}
	for _, f := range lab.Files {
		if _, err := os.Stat(filepath.Join(dir, "task-arithmetic", f)); err != nil {
			t.Error(err)
		}
	}
	// The same command gives the same bytes.
	again := t.TempDir()
	if code, _, stderr := runCLI(t, "labs", "build", "--out", again, "--lab", "task-arithmetic"); code != 0 {
		t.Fatalf("second build: exit %d: %s", code, stderr)
	}
	for _, f := range append(lab.Files, "lab.json", "add.yaml", "negate.yaml") {
		a, _ := os.ReadFile(filepath.Join(dir, "task-arithmetic", f))
		b, err := os.ReadFile(filepath.Join(again, "task-arithmetic", f))
		if err != nil || string(a) != string(b) {
			t.Errorf("%s differs between two builds (%v)", f, err)
		}
	}
}

func TestLabsUsage(t *testing.T) {
	for _, args := range [][]string{
		{"labs"},
		{"labs", "bake"},
		{"labs", "build", "--lab", "nope"},
		{"labs", "build", "extra"},
		{"labs", "build", "--bogus"},
	} {
		code, _, stderr := runCLI(t, args...)
		if code != 2 {
			t.Errorf("ladle %v: exit %d, want 2 (%s)", args, code, stderr)
		}
	}
	if _, _, stderr := runCLI(t, "labs", "build", "--lab", "nope"); !strings.Contains(stderr, "soups") {
		t.Errorf("an unknown lab does not list the labs: %s", stderr)
	}
}
