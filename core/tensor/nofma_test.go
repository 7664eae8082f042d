//go:build !js

package tensor

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// fusionAllowed names, by the function whose compiled code holds it, each fused
// multiply-add in ladle/core/... that cannot change a promised result, with the reason.
// Everything else must round its products explicitly (float64(x*y), float32(x*y)).
var fusionAllowed = map[string]string{
	// float32·float32 has at most 48 significant bits and an exponent far inside
	// float64's range, so float64(a)*float64(b) is exact: fma(a, b, c) and a*b + c
	// round once, at the add, to the same bits.
	"ladle/core/tensor.dotBlock":   "float32 products are exact in float64",
	"ladle/core/tensor.sumSqBlock": "float32 products are exact in float64",
	// The CPU references the WebGPU self-test compares its shaders with, within a
	// bound scaled by Σ|x·w| (wasm/gpu/selftest.go): never a promised bit pattern.
	"ladle/core/compute.LinearRef": "tolerance reference for the GPU self-test",
	"ladle/core/compute.Conv2DRef": "tolerance reference for the GPU self-test",
	// LinearRef inlined into the head's reference
	"ladle/core/compute.LinearHeadRef": "tolerance reference for the GPU self-test",
}

// fusedInstruction matches the fused multiply-adds of amd64 (VFMADD231SD, VFNMSUB…)
// and arm64 (FMADDD, FMSUBS, FNMADDD, FNMSUBD…) in -S output, with the source line.
var fusedInstruction = regexp.MustCompile(`\(([^()]*\.go:\d+)\)\s+(VF(?:N)?M(?:ADD|SUB)\w+|F(?:N)?M(?:ADD|SUB)[SD])\s`)

// TestNoFusedMultiplyAdd keeps every promised bit pattern of Ladle (merge bytes, exact
// mode's nn outputs and the `ladle eval` figures they make, the labs' builds, LoRA
// extraction and application, recipe values) the same on every target. Go may fuse
// x*y + z into one instruction with a single rounding on arm64 (always), ppc64, s390x
// and amd64 at GOAMD64=v3, unless the product is converted explicitly; wasm never
// fuses, so one fused instruction makes a native command's bits differ from the
// page's. The test compiles ladle/core/... for amd64 v3 and for arm64 (compile only;
// the build cache replays the listing) and fails on any fused instruction outside
// fusionAllowed, naming the function and source line.
func TestNoFusedMultiplyAdd(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles ladle/core/... for amd64 v3 and arm64")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	used := map[string]bool{}
	for _, target := range [][]string{
		{"GOOS=linux", "GOARCH=amd64", "GOAMD64=v3"},
		{"GOOS=linux", "GOARCH=arm64"},
	} {
		cmd := exec.Command(goBin, "build", "-o", "/dev/null", "-gcflags=-S", "ladle/core/...")
		cmd.Env = append(cmd.Environ(), append([]string{"CGO_ENABLED=0"}, target...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go build %v (on %s): %v\n%.2000s", target, runtime.GOARCH, err, out)
		}
		found := fusedSites(out)
		if len(found) == 0 {
			t.Fatalf("%v: no function listings in the -S output; the check would pass vacuously", target)
		}
		var bad []string
		for fn, lines := range found {
			if fn == "" {
				continue
			}
			if _, ok := fusionAllowed[fn]; ok {
				used[fn] = true
				continue
			}
			for _, l := range lines {
				bad = append(bad, fmt.Sprintf("%s in %s: %s", l, fn, strings.Join(target, " ")))
			}
		}
		sort.Strings(bad)
		for _, b := range bad {
			t.Errorf("%s: a fused multiply-add: round the product with float64(x*y) or float32(x*y)", b)
		}
	}
	for fn := range fusionAllowed {
		if !used[fn] {
			t.Errorf("fusionAllowed names %s, which no longer fuses: remove it", fn)
		}
	}
}

// fusedSites reads a -S listing: for every function (a "name STEXT" header), the
// source lines of its fused instructions; the "" key holds no sites and only records
// that some listing was read.
func fusedSites(out []byte) map[string][]string {
	sites := map[string][]string{}
	fn := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) >= 2 && f[1] == "STEXT" && !strings.HasPrefix(line, "\t") {
			fn = f[0]
			sites[""] = nil
			continue
		}
		if m := fusedInstruction.FindStringSubmatch(line); m != nil {
			sites[fn] = append(sites[fn], m[1]+" "+m[2])
		}
	}
	return sites
}
