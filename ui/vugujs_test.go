package ui

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// vuguJSHeader starts public/vugu-render.js; the rest is Vugu's own helper script.
const vuguJSHeader = `// vugu-render.js: the DOM renderer helpers of Vugu (github.com/vugu/vugu/domrender,
// renderer-js-script.go, MIT licence), loaded from a file because the page's
// Content-Security-Policy forbids eval, which domrender.New would use to install them.
// The script returns at once when window.vuguRender exists, so domrender's own copy is
// then never needed. Generated: LADLE_UPDATE=1 go test ./ui -run TestVuguRenderScript
`

// vuguHelperScript reads domrender's jsHelperScript constant from the module cache.
func vuguHelperScript(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/vugu/vugu").Output()
	if err != nil {
		t.Skipf("cannot locate the vugu module (go list -m): %v", err)
	}
	path := filepath.Join(strings.TrimSpace(string(out)), "domrender", "renderer-js-script.go")
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Skipf("reading vugu's renderer script: %v", err)
	}
	var script string
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Names) == 1 && vs.Names[0].Name == "jsHelperScript" {
			if lit, ok := vs.Values[0].(*ast.BasicLit); ok {
				script, err = strconv.Unquote(lit.Value)
			}
		}
		return true
	})
	if err != nil || script == "" {
		t.Fatalf("no jsHelperScript constant in %s (%v)", path, err)
	}
	return script
}

// TestVuguRenderScript checks that public/vugu-render.js is the helper script of the
// Vugu version in go.mod: the page loads it instead of letting domrender eval it.
func TestVuguRenderScript(t *testing.T) {
	want := vuguJSHeader + vuguHelperScript(t) + "\n"
	path := filepath.Join("..", "public", "vugu-render.js")
	if os.Getenv("LADLE_UPDATE") == "1" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, []byte(want)) {
		t.Fatalf("%s is not the helper script of this Vugu version: regenerate it with LADLE_UPDATE=1 go test ./ui -run TestVuguRenderScript", path)
	}
	if !strings.Contains(want, "if(window.vuguRender)return;") {
		t.Error("vugu's helper script no longer returns early when it is already installed; wasm/app relies on that")
	}
}
