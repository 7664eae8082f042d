package eval

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// maxIDXBytes bounds the data an IDX header may declare (16 GiB): beyond that the
// header is corrupt or hostile. Data is read as it arrives, so a short file with a
// huge header fails without allocating what the header claims.
const maxIDXBytes = 1 << 34

// idxArray is one decoded IDX file.
type idxArray struct {
	dims []int
	u8   []uint8   // type 0x08
	f32  []float32 // every other type, converted
}

// ImportIDX reads MNIST-style IDX files (gzip-compressed or not): images (any element
// type, N × sample dims) and labels (an integer type, N). Unsigned-byte images stay
// bytes; the model's input_scale maps them (1/255 for [0, 1]).
func ImportIDX(images, labels io.Reader) (*Dataset, error) {
	im, err := readIDX(images)
	if err != nil {
		return nil, fmt.Errorf("images: %w", err)
	}
	lb, err := readIDX(labels)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	if len(lb.dims) != 1 {
		return nil, fmt.Errorf("labels: an IDX label file has one dimension, this one has %d %v", len(lb.dims), lb.dims)
	}
	if lb.dims[0] != im.dims[0] {
		return nil, fmt.Errorf("the images file holds %d images but the labels file %d labels", im.dims[0], lb.dims[0])
	}
	d := &Dataset{Shape: im.dims[1:], U8: im.u8, F32: im.f32, Labels: make([]int, lb.dims[0])}
	if len(d.Shape) == 0 {
		d.Shape = []int{1}
	}
	for i := range d.Labels {
		v := float64(0)
		if lb.u8 != nil {
			v = float64(lb.u8[i])
		} else {
			v = float64(lb.f32[i])
		}
		if v < 0 || v != math.Trunc(v) || v > math.MaxInt32 {
			return nil, fmt.Errorf("labels: label %d is %v, not a class index 0, 1, ...", i, v)
		}
		d.Labels[i] = int(v)
	}
	return d, d.check()
}

// IDX element types: the third byte of the magic number.
var idxTypes = map[byte]struct {
	name string
	size int
}{
	0x08: {"unsigned byte", 1}, 0x09: {"signed byte", 1}, 0x0B: {"short", 2},
	0x0C: {"int", 4}, 0x0D: {"float", 4}, 0x0E: {"double", 8},
}

func readIDX(r io.Reader) (*idxArray, error) {
	br := bufio.NewReader(r)
	if head, err := br.Peek(2); err == nil && head[0] == 0x1f && head[1] == 0x8b {
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer z.Close()
		br = bufio.NewReader(z)
	}
	var magic [4]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil {
		return nil, fmt.Errorf("not an IDX file: %w", eofAsTruncated(err))
	}
	t, ok := idxTypes[magic[2]]
	if magic[0] != 0 || magic[1] != 0 || !ok || magic[3] == 0 {
		return nil, fmt.Errorf("not an IDX file (magic % x; want 00 00 TYPE NDIMS)", magic)
	}
	a := &idxArray{dims: make([]int, magic[3])}
	total := uint64(t.size)
	for i := range a.dims {
		var d uint32
		if err := binary.Read(br, binary.BigEndian, &d); err != nil {
			return nil, fmt.Errorf("reading dimension %d: %w", i, eofAsTruncated(err))
		}
		a.dims[i] = int(d)
		if total *= uint64(d); total > maxIDXBytes {
			return nil, fmt.Errorf("dimensions %v declare more than %d bytes", a.dims[:i+1], uint64(maxIDXBytes))
		}
	}
	if a.dims[0] == 0 {
		return nil, errors.New("the file holds no items")
	}
	data, err := io.ReadAll(io.LimitReader(br, int64(total)+1))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	switch {
	case uint64(len(data)) < total:
		return nil, fmt.Errorf("truncated: dimensions %v need %d bytes of data, the file has %d", a.dims, total, len(data))
	case uint64(len(data)) > total:
		return nil, fmt.Errorf("more data than dimensions %v declare", a.dims)
	}
	if magic[2] == 0x08 {
		a.u8 = data
		return a, nil
	}
	a.f32 = make([]float32, int(total)/t.size)
	for i := range a.f32 {
		b := data[i*t.size:]
		switch magic[2] {
		case 0x09:
			a.f32[i] = float32(int8(b[0]))
		case 0x0B:
			a.f32[i] = float32(int16(binary.BigEndian.Uint16(b)))
		case 0x0C:
			a.f32[i] = float32(int32(binary.BigEndian.Uint32(b)))
		case 0x0D:
			a.f32[i] = math.Float32frombits(binary.BigEndian.Uint32(b))
		case 0x0E:
			a.f32[i] = float32(math.Float64frombits(binary.BigEndian.Uint64(b)))
		}
	}
	return a, nil
}

func eofAsTruncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("truncated")
	}
	return err
}
