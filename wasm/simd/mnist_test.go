//go:build js && wasm

package simd

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"ladle/core/ckpt"
	_ "ladle/core/ckpt/all"
	"ladle/core/ckpt/ckpttest"
	"ladle/core/eval"
	"ladle/core/nn"
)

// burnMNIST is what `ladle eval --json` prints for burn-mnist's run-a.pt on the
// 10,000 MNIST test images (exact mode, the default; cmd/ladle's TestEvalBurnMNIST
// holds the native command to it).
const burnMNIST = `{"accuracy":0.9915,"loss":0.030435242062659386,"n":10000}`

// The engine's evaluation, with the module, prints what the native command prints on
// a real checkpoint and the real MNIST test set.
func TestBurnMNISTLikeNative(t *testing.T) {
	model := ckpttest.Fixture(t, filepath.Join("burn-mnist", "run-a.pt"))
	dir := os.Getenv("LADLE_MNIST_DIR")
	if dir == "" {
		t.Skip("LADLE_MNIST_DIR (the GoMNIST module's folder) is not set: site/browsertest's TestWasmPackagesUnderNode sets it")
	}
	install(t)
	open := func(name string) *gzip.Reader {
		f, err := os.Open(filepath.Join(dir, "data", name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		z, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		return z
	}
	data, err := eval.ImportIDX(open("t10k-images-idx3-ubyte.gz"), open("t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := os.ReadFile(filepath.Join("..", "..", "core", "eval", "testdata", "burn-mnist.arch.json"))
	if err != nil {
		t.Fatal(err)
	}
	arch, err := nn.ParseArch(spec)
	if err != nil {
		t.Fatal(err)
	}
	src, err := ckpt.Open(model)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	m, err := nn.Load(arch, src)
	if err != nil {
		t.Fatal(err)
	}
	m.SetExact(true)
	before := calls.Load()
	r, err := eval.Evaluate(m, data, eval.DefaultBatch)
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() == before {
		t.Error("the module computed no product")
	}
	b, _ := json.Marshal(r)
	if string(b) != burnMNIST {
		t.Errorf("js/wasm with the module: %s, ladle eval: %s", b, burnMNIST)
	}
}
