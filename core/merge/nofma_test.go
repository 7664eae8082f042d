//go:build !js

package merge

import (
	"os/exec"
	"regexp"
	"runtime"
	"testing"
)

// The package's float64 arithmetic must round every product on its own: amd64 at
// GOAMD64=v3 has fused multiply-add, which Go may use for x*y + z unless the product is
// converted explicitly (float64(x*y)), and wasm has none, so one fused instruction
// makes the command's bits differ from the page's. This test compiles the package for
// amd64 v3 and fails on any fused instruction in the code, naming the source line.
func TestNoFusedMultiplyAdd(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the package for GOAMD64=v3")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	cmd := exec.Command(goBin, "build", "-o", "/dev/null", "-gcflags=-S", ".")
	cmd.Env = append(cmd.Environ(), "GOOS=linux", "GOARCH=amd64", "GOAMD64=v3")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build for amd64 v3 (on %s): %v\n%.2000s", runtime.GOARCH, err, out)
	}
	fused := regexp.MustCompile(`\(([^()]*\.go:\d+)\)\s+VF(N)?M(ADD|SUB)`)
	for _, m := range fused.FindAllSubmatch(out, -1) {
		t.Errorf("%s: a fused multiply-add: round the product with float64(x*y)", m[1])
	}
}
