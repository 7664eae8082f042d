package labs

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"strconv"
	"strings"

	"ladle/core/eval"
)

// digitsCSV is the UCI optical recognition of handwritten digits data (scikit-learn's
// copy, CC BY 4.0; see data/README.md): 1,797 rows of 64 pixel values 0..16 and a
// label 0..9.
//
//go:embed data/digits.csv.gz
var digitsCSV []byte

const (
	digitsSide     = 8
	digitsFeatures = digitsSide * digitsSide
	digitsMax      = 16 // pixel values lie in 0..16
	digitsClasses  = 10
)

// set is a labelled set of 8×8 digits held as raw pixel values (0..16, as float32 so
// that corruptions may leave the grid; stored datasets round them back to bytes).
type set struct {
	x []float32 // Len() × features
	y []int
	f int // features per sample; 0 means digitsFeatures (the multitask lab's MNIST sets set it)
}

// features is the number of values per sample.
func (s *set) features() int {
	if s.f == 0 {
		return digitsFeatures
	}
	return s.f
}

func (s *set) Len() int { return len(s.y) }

func (s *set) sample(i int) []float32 { f := s.features(); return s.x[i*f : (i+1)*f] }

// subset returns the samples at the given indices, in that order.
func (s *set) subset(idx []int) *set {
	out := &set{x: make([]float32, 0, len(idx)*s.features()), y: make([]int, 0, len(idx)), f: s.f}
	for _, i := range idx {
		out.x = append(out.x, s.sample(i)...)
		out.y = append(out.y, s.y[i])
	}
	return out
}

// classes returns the samples whose label is among the given classes, in order.
func (s *set) classes(cs ...int) *set {
	var idx []int
	for i, y := range s.y {
		for _, c := range cs {
			if y == c {
				idx = append(idx, i)
				break
			}
		}
	}
	return s.subset(idx)
}

// mapped returns a copy with every sample passed through f (a corruption).
func (s *set) mapped(f func(i int, px []float32)) *set {
	out := &set{x: append([]float32(nil), s.x...), y: append([]int(nil), s.y...), f: s.f}
	for i := range out.y {
		f(i, out.sample(i))
	}
	return out
}

// dataset converts the set to a stored split: bytes 0..16, rounded and clamped.
func (s *set) dataset(split string) *eval.Dataset {
	u8 := make([]uint8, len(s.x))
	for i, v := range s.x {
		r := int(v + 0.5)
		if v < 0 {
			r = 0
		}
		u8[i] = uint8(min(max(r, 0), 255))
	}
	return &eval.Dataset{Split: split, Shape: []int{1, digitsSide, digitsSide}, U8: u8,
		Labels: append([]int(nil), s.y...), Classes: digitNames()}
}

// quantized returns the set as the stored dataset holds it (values rounded to whole
// numbers), so that the numbers a lab reports are those of its data file.
func (s *set) quantized() *set {
	d := s.dataset("")
	out := &set{x: make([]float32, len(d.U8)), y: append([]int(nil), s.y...)}
	for i, v := range d.U8 {
		out.x[i] = float32(v)
	}
	return out
}

func digitNames() []string {
	out := make([]string, digitsClasses)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}

// loadDigits parses the embedded CSV.
func loadDigits() (*set, error) {
	zr, err := gzip.NewReader(bytes.NewReader(digitsCSV))
	if err != nil {
		return nil, fmt.Errorf("labs: digits data: %v", err)
	}
	s := &set{}
	sc := bufio.NewScanner(zr)
	line := 0
	for sc.Scan() {
		line++
		fields := strings.Split(strings.TrimSpace(sc.Text()), ",")
		if len(fields) != digitsFeatures+1 {
			return nil, fmt.Errorf("labs: digits data line %d: %d fields, want %d", line, len(fields), digitsFeatures+1)
		}
		for j, f := range fields {
			v, err := strconv.Atoi(f)
			if err != nil || v < 0 || j < digitsFeatures && v > digitsMax || j == digitsFeatures && v >= digitsClasses {
				return nil, fmt.Errorf("labs: digits data line %d, field %d: bad value %q", line, j+1, f)
			}
			if j < digitsFeatures {
				s.x = append(s.x, float32(v))
			} else {
				s.y = append(s.y, v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("labs: digits data: %v", err)
	}
	if err := zr.Close(); err != nil {
		return nil, fmt.Errorf("labs: digits data: %v", err)
	}
	return s, nil
}

// splits cuts the digits into train, validation and test sets: a seeded shuffle
// within each class, then the first test and val fractions of each class go to test
// and validation, the rest to training. Each split keeps the file's order.
type splits struct {
	train, val, test *set
}

func splitDigits(all *set, seed uint64, testFrac, valFrac float64) splits {
	byClass := make([][]int, digitsClasses)
	for i, y := range all.y {
		byClass[y] = append(byClass[y], i)
	}
	g := newRNG(seed, "split")
	take := make([]int, all.Len()) // 0 train, 1 val, 2 test
	for _, idx := range byClass {
		perm := g.perm(len(idx))
		nTest := int(float64(float64(len(idx))*testFrac) + 0.5) // products rounded: no FMA
		nVal := int(float64(float64(len(idx))*valFrac) + 0.5)
		for r, p := range perm {
			switch {
			case r < nTest:
				take[idx[p]] = 2
			case r < nTest+nVal:
				take[idx[p]] = 1
			}
		}
	}
	var parts [3][]int
	for i, t := range take {
		parts[t] = append(parts[t], i)
	}
	return splits{train: all.subset(parts[0]), val: all.subset(parts[1]), test: all.subset(parts[2])}
}

// Augmentations and corruptions of one 8×8 sample of raw values (0..16), in place.

// shift moves the image by (dx, dy) pixels, filling with 0.
func shift(px []float32, dx, dy int) {
	var tmp [digitsFeatures]float32
	for y := range digitsSide {
		for x := range digitsSide {
			sx, sy := x-dx, y-dy
			if sx >= 0 && sx < digitsSide && sy >= 0 && sy < digitsSide {
				tmp[y*digitsSide+x] = px[sy*digitsSide+sx]
			}
		}
	}
	copy(px, tmp[:])
}

// addNoise adds Gaussian noise of standard deviation sigma, clamped to 0..16.
func addNoise(g *rng, px []float32, sigma float64) {
	for i, v := range px {
		px[i] = clampPixel(float64(v) + float64(sigma*g.normal()))
	}
}

// blur is a 3×3 blur with weights 1 2 1 / 2 4 2 / 1 2 1 (zero padding), divided by 16.
func blur(px []float32) {
	var tmp [digitsFeatures]float32
	w := [3]float32{1, 2, 1}
	for y := range digitsSide {
		for x := range digitsSide {
			var s float32
			for ky := range 3 {
				for kx := range 3 {
					sy, sx := y+ky-1, x+kx-1
					if sy >= 0 && sy < digitsSide && sx >= 0 && sx < digitsSide {
						s += float32(float32(w[ky]*w[kx]) * px[sy*digitsSide+sx])
					}
				}
			}
			tmp[y*digitsSide+x] = s / 16
		}
	}
	copy(px, tmp[:])
}

// clampPixel keeps a value in the pixel range 0..16.
func clampPixel(v float64) float32 {
	return float32(min(max(v, 0), digitsMax))
}
