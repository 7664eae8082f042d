package browsertest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"ladle/site/bundle"
)

// TestWasmPackagesUnderNode runs the js/wasm packages' own tests (wasm/jsutil: Blob
// reads and writes, promises) under Node, which has Blob, when Node is installed.
func TestWasmPackagesUnderNode(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and runs the wasm tests")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: the js/wasm tests of wasm/... need it (GOOS=js GOARCH=wasm go test -exec go_js_wasm_exec)")
	}
	root, ok := bundle.FindRoot(".")
	if !ok {
		t.Fatal("not in the source tree")
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	execPath := filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "go_js_wasm_exec")
	cmd := exec.Command("go", "test", "-count=1", "-exec="+execPath, "./wasm/...")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("GOOS=js GOARCH=wasm go test ./wasm/...: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// TestMergeGoldenUnderWasm runs core/merge's golden-output test (every method's
// output bits on fixed inputs, the SVD methods included) compiled to js/wasm under
// Node: the page's merges must be bit-identical to the command's.
func TestMergeGoldenUnderWasm(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and runs core/merge's tests for js/wasm")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: the native-versus-wasm golden test needs it")
	}
	root, ok := bundle.FindRoot(".")
	if !ok {
		t.Fatal("not in the source tree")
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	execPath := filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "go_js_wasm_exec")
	cmd := exec.Command("go", "test", "-count=1", "-exec="+execPath, "-run", "^TestGoldenOutputs$", "-v", "./core/merge")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("GOOS=js GOARCH=wasm go test -run TestGoldenOutputs ./core/merge: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestGoldenOutputs") {
		t.Fatalf("the golden test did not run under wasm:\n%s", out)
	}
}
