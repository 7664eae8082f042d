package browsertest

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
)

// Layout returns the tensors of a generated model of about size bytes: layers of a
// [rows, 1024] float32 weight (rows*4 KiB) and a [rows] bias, plus an I64 counter.
func Layout(size int64, rows int64) []ckpt.Info {
	if rows <= 0 {
		rows = 1024
	}
	var out []ckpt.Info
	var total int64
	for i := 0; total < size || i == 0; i++ {
		w := ckpt.Info{Name: fmt.Sprintf("layers.%d.weight", i), DType: dtype.F32, Shape: []int64{rows, 1024}}
		b := ckpt.Info{Name: fmt.Sprintf("layers.%d.bias", i), DType: dtype.F32, Shape: []int64{rows}}
		out = append(out, w, b)
		total += w.Bytes() + b.Bytes()
	}
	return append(out, ckpt.Info{Name: "norm.num_batches_tracked", DType: dtype.I64, Shape: []int64{}})
}

// WriteModel writes a safetensors file of the layout whose float values are a shared
// base plus seed-dependent noise (as fine-tunes of one model), streaming: memory stays
// small whatever the size.
func WriteModel(path string, tensors []ckpt.Info, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := bufio.NewWriterSize(f, 1<<20)
	w, err := safetensors.NewWriter(buf, tensors, map[string]string{"generated": "ladle browsertest", "seed": fmt.Sprint(seed)})
	if err != nil {
		f.Close()
		return err
	}
	chunk := make([]byte, 1<<20)
	for k, t := range tensors {
		if err := w.BeginTensor(t.Name); err != nil {
			f.Close()
			return err
		}
		if !t.DType.IsFloat() {
			binary.LittleEndian.PutUint64(chunk[:8], 1000+seed)
			if _, err := w.Write(chunk[:t.Bytes()]); err != nil {
				f.Close()
				return err
			}
			continue
		}
		base, noise := uint64(k+1)*0x9E3779B97F4A7C15, (seed+1)*0xBF58476D1CE4E5B9+uint64(k)
		for left := t.Bytes(); left > 0; {
			n := min(left, int64(len(chunk)))
			for i := int64(0); i < n; i += 4 {
				base, noise = xorshift(base), xorshift(noise)
				v := float32(unit(base))*0.1 + float32(unit(noise))*0.01
				binary.LittleEndian.PutUint32(chunk[i:], math.Float32bits(v))
			}
			if _, err := w.Write(chunk[:n]); err != nil {
				f.Close()
				return err
			}
			left -= n
		}
	}
	if err := w.Close(); err != nil {
		f.Close()
		return err
	}
	if err := buf.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteModels writes count models of about size bytes each into dir (a.safetensors,
// b.safetensors, ...) and returns their paths.
func WriteModels(dir string, count int, size int64) ([]string, error) {
	tensors := Layout(size, 1024)
	var paths []string
	for i := 0; i < count; i++ {
		p := filepath.Join(dir, string(rune('a'+i))+".safetensors")
		if err := WriteModel(p, tensors, uint64(i)); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

func xorshift(x uint64) uint64 {
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	return x
}

// unit maps 64 random bits to [-1, 1).
func unit(x uint64) float64 { return float64(x>>11)/float64(1<<52) - 1 }
