package plan

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"unsafe"

	"ladle/core/ckpt"
	"ladle/core/dtype"
)

// littleEndian: float32 slices can be filled by reading bytes straight into them (amd64,
// arm64 and wasm are little-endian; elsewhere rows go through the decoder).
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// chunkElems is how many elements one read-and-decode step handles.
const chunkElems = 1 << 18

// minSplit is the smallest share of a tensor worth giving to a goroutine.
const minSplit = 1 << 16

// readF32 reads a float tensor of src into dst (len = its element count) as float32,
// splitting the work over up to workers goroutines. The result does not depend on
// workers.
func readF32(ctx context.Context, src ckpt.Source, info ckpt.Info, dst []float32, workers int) error {
	r, err := src.Tensor(info.Name)
	if err != nil {
		return err
	}
	n := len(dst)
	size := info.DType.Size()
	if int64(n)*int64(size) != r.Size() {
		return &ckpt.FormatError{File: src.Path(), Tensor: info.Name, Msg: fmt.Sprintf("holds %d bytes, %s%v needs %d", r.Size(), info.DType, info.Shape, int64(n)*int64(size))}
	}
	parts := min(workers, max(1, n/minSplit))
	if ckpt.IsSequential(r) {
		parts = 1 // decompressed as read: each part would first inflate all before it
	}
	var wg sync.WaitGroup
	errs := make([]error, parts)
	for w := 0; w < parts; w++ {
		lo, hi := w*n/parts, (w+1)*n/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = readRange(ctx, r, info.DType, dst, lo, hi)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return &ckpt.FormatError{File: src.Path(), Tensor: info.Name, Msg: "reading its data: " + readMessage(err)}
	}
	return nil
}

func readMessage(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the file ends early (is it truncated, or was it changed while merging?)"
	}
	return err.Error()
}

func readRange(ctx context.Context, r io.ReaderAt, dt dtype.DType, dst []float32, lo, hi int) error {
	size := dt.Size()
	var raw []byte
	for at := lo; at < hi; at += chunkElems {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(hi, at+chunkElems)
		if dt == dtype.F32 && littleEndian {
			if _, err := r.ReadAt(f32Bytes(dst[at:end]), int64(at)*4); err != nil {
				return err
			}
			continue
		}
		if raw == nil {
			raw = make([]byte, chunkElems*size)
		}
		b := raw[:(end-at)*size]
		if _, err := r.ReadAt(b, int64(at)*int64(size)); err != nil {
			return err
		}
		if err := dtype.DecodeF32(dst[at:end], b, dt); err != nil {
			return err
		}
	}
	return nil
}

// f32Bytes views float32s as their little-endian bytes (on a little-endian host).
func f32Bytes(x []float32) []byte {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&x[0])), 4*len(x))
}

// writeF32 encodes values as dt and writes them, a chunk at a time.
func writeF32(w io.Writer, values []float32, dt dtype.DType) error {
	if dt == dtype.F32 && littleEndian {
		_, err := w.Write(f32Bytes(values))
		return err
	}
	buf := make([]byte, min(len(values), chunkElems)*dt.Size())
	for at := 0; at < len(values); at += chunkElems {
		end := min(len(values), at+chunkElems)
		b := buf[:(end-at)*dt.Size()]
		if err := dtype.EncodeF32(b, values[at:end], dt); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// grow returns buf resized to n, reusing its memory when it is large enough.
func grow(buf []float32, n int) []float32 {
	if cap(buf) >= n {
		return buf[:n]
	}
	return make([]float32, n)
}
