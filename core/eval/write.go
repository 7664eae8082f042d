package eval

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
)

// Encode writes datasets as one safetensors file: for each, x[.SPLIT] (U8 or F32,
// N × Shape) and y[.SPLIT] (I64, N). Splits must differ. The classes of the first
// dataset that names them go into the ClassesKey metadata.
func Encode(w io.Writer, sets ...*Dataset) error {
	var infos []ckpt.Info
	meta := map[string]string{}
	seen := map[string]bool{}
	for _, d := range sets {
		if err := d.check(); err != nil {
			return err
		}
		if seen[d.Split] {
			return fmt.Errorf("two datasets for split %q", d.Split)
		}
		seen[d.Split] = true
		xName, yName := tensorNames(d.Split)
		shape := []int64{int64(d.Len())}
		for _, s := range d.Shape {
			shape = append(shape, int64(s))
		}
		xType := dtype.F32
		if d.U8 != nil {
			xType = dtype.U8
		}
		infos = append(infos, ckpt.Info{Name: xName, DType: xType, Shape: shape},
			ckpt.Info{Name: yName, DType: dtype.I64, Shape: []int64{int64(d.Len())}})
		if d.Classes != nil && meta[ClassesKey] == "" {
			b, err := json.Marshal(d.Classes)
			if err != nil {
				return err
			}
			meta[ClassesKey] = string(b)
		}
	}
	sw, err := safetensors.NewWriter(w, infos, meta)
	if err != nil {
		return err
	}
	for _, d := range sets {
		xName, yName := tensorNames(d.Split)
		x := d.U8
		if x == nil {
			x = make([]byte, 4*len(d.F32))
			if err := dtype.EncodeF32(x, d.F32, dtype.F32); err != nil {
				return err
			}
		}
		if err := sw.WriteTensor(xName, x); err != nil {
			return err
		}
		y := make([]byte, 8*d.Len())
		for i, v := range d.Labels {
			binary.LittleEndian.PutUint64(y[8*i:], uint64(v))
		}
		if err := sw.WriteTensor(yName, y); err != nil {
			return err
		}
	}
	return sw.Close()
}

// WriteFile writes datasets to path with Encode. The file appears only once it is
// complete.
func WriteFile(path string, sets ...*Dataset) error {
	f, err := ckpt.CreateAtomic(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	buf := bufio.NewWriterSize(f, 1<<20)
	if err := Encode(buf, sets...); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := buf.Flush(); err != nil {
		return err
	}
	return f.Commit()
}
