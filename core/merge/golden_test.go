package merge

import (
	"fmt"
	"math"
	"os"
	"testing"

	"ladle/core/tensor"
)

// goldenInput draws a tensor from the RNG contract alone (no math/rand), so the inputs
// are the same on every platform.
func goldenInput(model, n int, base []float32, scale float32) []float32 {
	r := tensor.NewRNG(2024, model, "golden")
	x := make([]float32, n)
	for i := range x {
		v := float32(r.Float64(int64(i))*2-1) * scale
		if i%11 == 0 {
			v = 0.25 // ties at thresholds
		}
		if base != nil {
			v += base[i]
		}
		x[i] = v
	}
	return x
}

func hashBits(x []float32) uint64 {
	h := uint64(0xcbf29ce484222325)
	for _, v := range x {
		b := math.Float32bits(v)
		for k := 0; k < 4; k++ {
			h ^= uint64(b >> (8 * k) & 0xff)
			h *= 0x100000001b3
		}
	}
	return h
}

// goldenHashes lock every method's output bits on fixed inputs. The same values must
// come out natively and in wasm (GOOS=js GOARCH=wasm go test runs this test too); a
// change here means recipes no longer reproduce, so it must be deliberate. Regenerate
// with LADLE_GOLDEN=print go test -run TestGoldenOutputs -v.
var goldenHashes = map[string]uint64{
	"breadcrumbs":      0x147c8f15ee255f29,
	"breadcrumbs_ties": 0x42e48ee9d151484a,
	"dare_linear":      0xc58f39aea307e9bb,
	"dare_ties":        0x7d99aef7ee6f6780,
	"della":            0x51f7a3dc5c785b70,
	"della_linear":     0x3871e12b57860e10,
	"fisher":           0xf4081d2591293188,
	"greedy_soup":      0x9263b6944dd0e8ec, // the uniform average of the chosen models: linear's bits
	"linear":           0x9263b6944dd0e8ec,
	"model_stock":      0xfcfcd2c6fb2e738d,
	"nearswap":         0x38610d8abbb31c83,
	"rws_extract":      0xb912abe92b1a2969,
	"rws_patch":        0x70d153bfaf37781c,
	"rws_remove":       0xc4411567f014c1bc,
	"slerp":            0x5777bfffad2c0185,
	"task_arithmetic":  0xbeba178d46cc9dd3,
	"ties":             0xff456ae132ad2b4d,
	"wise_ft":          0x72d8e11f7a7e9d93,
	"iso_c":            0x5713ba0c5bc9801f,
	"iso_cts":          0x63d87d9d8a40b803,
	"pcb":              0x356dee26b3b89867,
	"tsv_merge":        0xd947edf14c3c4027,
	"karcher":          0x8f7efedd305b448c,
	"multislerp":       0x8f7efedd305b448c, // near-parallel inputs: one tangent step lands where karcher's iterations do
	"nuslerp":          0x79ba2b4f070fd683,
	"passthrough":      0x9d3e2a084fc7622c,
	"sce":              0x744aecca400df0b5,
	// The SVD methods on a 300 x 130 tensor (see TestGoldenOutputs).
	"tsv_merge 300x130": 0x1f8946e7f0fb4afc,
	"iso_c 300x130":     0x0dcd44233fbf1810,
	"iso_cts 300x130":   0x5ae3f9d07b79e492,
}

func TestGoldenOutputs(t *testing.T) {
	const rows, cols = 24, 700
	n := rows * cols
	base := goldenInput(99, n, nil, 1)
	print := os.Getenv("LADLE_GOLDEN") == "print"
	for _, m := range All() {
		var models [][]float32
		for i := range modelsFor(m) {
			models = append(models, goldenInput(i, n, base, 0.1))
		}
		j := jobFor(m, "golden.weight", base, models)
		j.Shape = []int64{rows, cols}
		j.Seed = 7
		out := mergeOK(t, m.Name, j)
		h := hashBits(out)
		if print {
			fmt.Printf("\t%q: %#016x,\n", m.Name, h)
			continue
		}
		if want, ok := goldenHashes[m.Name]; !ok || h != want {
			t.Errorf("%s: output hash %#016x, want %#016x", m.Name, h, want)
		}
	}
	// The SVD methods again on a larger tall tensor, which takes every path of their
	// decomposition (several blocks of the matrix products and of the eigensolver's
	// reflectors, batched QL rotations, Jacobi sweeps over an active set).
	const bigRows, bigCols = 300, 130
	base = goldenInput(98, bigRows*bigCols, nil, 1)
	for _, name := range []string{"tsv_merge", "iso_c", "iso_cts"} {
		m, _ := Lookup(name)
		var models [][]float32
		for i := range 4 {
			models = append(models, goldenInput(10+i, bigRows*bigCols, base, 0.1))
		}
		j := jobFor(m, "golden.weight", base, models)
		j.Shape = []int64{bigRows, bigCols}
		key := fmt.Sprintf("%s %dx%d", name, bigRows, bigCols)
		h := hashBits(mergeOK(t, name, j))
		if print {
			fmt.Printf("\t%q: %#016x,\n", key, h)
			continue
		}
		if want, ok := goldenHashes[key]; !ok || h != want {
			t.Errorf("%s: output hash %#016x, want %#016x", key, h, want)
		}
	}
}
