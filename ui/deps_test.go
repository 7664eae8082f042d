package ui

import (
	"os/exec"
	"strings"
	"testing"
)

// The page program (wasm/app) is what a visitor downloads before the page can be
// used: it shows the registry (core/merge/info), holds recipes as data
// (core/recipe/spec) and speaks the engine's protocol (ui/wire) without linking the
// methods, the planner, the YAML parser, the readers, the evaluator or gonum, which
// live in the engine worker alone.
func TestPageProgramLinksNoCore(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the page program's packages")
	}
	cmd := exec.Command(goTool, "list", "-deps", "ladle/wasm/app")
	cmd.Env = append(cmd.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{"ladle/core/merge", "ladle/core/plan", "ladle/core/recipe", "go.yaml.in/yaml/v3", "ladle/core/nn", "ladle/core/eval", "ladle/core/lora",
		"ladle/core/ckpt/safetensors", "ladle/core/compute", "ladle/ui/engine"}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "gonum.org/") {
			t.Errorf("the page program links %s", pkg)
		}
		for _, f := range forbidden {
			if pkg == f {
				t.Errorf("the page program links %s", pkg)
			}
		}
	}
}
