package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"ladle/core/ckpt"
)

// Writer streams a safetensors file: the header goes out when the Writer is made,
// then each declared tensor's data, in the declared order. It implements ckpt.Sink.
type Writer struct {
	w       io.Writer
	tensors []ckpt.Info
	next    int   // index of the tensor BeginTensor expects next
	left    int64 // bytes still due for the current tensor
	err     error // sticky: once a write fails, the file is unusable
}

// NewWriter writes the header for tensors (in this order) and metadata to w.
func NewWriter(w io.Writer, tensors []ckpt.Info, metadata map[string]string) (*Writer, error) {
	header, err := EncodeHeader(tensors, metadata)
	if err != nil {
		return nil, err
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(header)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return nil, err
	}
	if _, err := w.Write(header); err != nil {
		return nil, err
	}
	return &Writer{w: w, tensors: tensors, left: -1}, nil
}

// EncodeHeader returns the JSON header (without the 8-byte length) for tensors laid
// out in order, padded with spaces so that 8 + len(header) is a multiple of 8.
// Metadata keys are sorted, so the bytes depend only on the arguments.
func EncodeHeader(tensors []ckpt.Info, metadata map[string]string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString(`"__metadata__":{`)
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(&b, k)
			b.WriteByte(':')
			writeJSONString(&b, metadata[k])
		}
		b.WriteByte('}')
	}
	seen := make(map[string]bool, len(tensors))
	var offset int64
	for i, t := range tensors {
		if t.Name == "__metadata__" {
			return nil, fmt.Errorf("safetensors: a tensor cannot be named __metadata__")
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("safetensors: tensor %q is declared twice", t.Name)
		}
		seen[t.Name] = true
		if !t.DType.Valid() {
			return nil, fmt.Errorf("safetensors: tensor %q has no valid dtype", t.Name)
		}
		n := t.Bytes()
		if n < 0 {
			return nil, fmt.Errorf("safetensors: tensor %q: shape %v is negative or overflows", t.Name, t.Shape)
		}
		if i > 0 || len(metadata) > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, t.Name)
		fmt.Fprintf(&b, `:{"dtype":"%s","shape":[`, t.DType)
		for j, d := range t.Shape {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprint(&b, d)
		}
		fmt.Fprintf(&b, `],"data_offsets":[%d,%d]}`, offset, offset+n)
		offset += n
	}
	b.WriteByte('}')
	for (8+b.Len())%8 != 0 {
		b.WriteByte(' ')
	}
	if b.Len() > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: the header would be %d bytes, over the %d-byte limit readers accept", b.Len(), MaxHeaderSize)
	}
	return b.Bytes(), nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // a string always marshals
	b.Write(enc)
}

// BeginTensor starts the data of the named tensor, which must be the next one declared.
func (w *Writer) BeginTensor(name string) error {
	if w.err != nil {
		return w.err
	}
	if w.left > 0 {
		return w.fail(fmt.Errorf("safetensors: tensor %q: %d bytes still due before %q can start", w.tensors[w.next-1].Name, w.left, name))
	}
	if w.next >= len(w.tensors) {
		return w.fail(fmt.Errorf("safetensors: tensor %q was not declared (all %d declared tensors are written)", name, len(w.tensors)))
	}
	if want := w.tensors[w.next].Name; want != name {
		return w.fail(fmt.Errorf("safetensors: tensor %q written out of order: %q comes next", name, want))
	}
	w.left = w.tensors[w.next].Bytes()
	w.next++
	return nil
}

// Write adds data to the current tensor; it refuses more bytes than the tensor holds.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.next == 0 {
		return 0, w.fail(fmt.Errorf("safetensors: Write before BeginTensor"))
	}
	if int64(len(p)) > w.left {
		return 0, w.fail(fmt.Errorf("safetensors: tensor %q: %d bytes written past its end", w.tensors[w.next-1].Name, int64(len(p))-w.left))
	}
	n, err := w.w.Write(p)
	w.left -= int64(n)
	if err != nil {
		return n, w.fail(err)
	}
	return n, nil
}

// WriteTensor writes the whole of the next tensor's data.
func (w *Writer) WriteTensor(name string, data []byte) error {
	if err := w.BeginTensor(name); err != nil {
		return err
	}
	if int64(len(data)) != w.left {
		return w.fail(fmt.Errorf("safetensors: tensor %q: got %d bytes, its dtype and shape need %d", name, len(data), w.left))
	}
	_, err := w.Write(data)
	return err
}

// CopyTensor writes the next tensor's data from r, which must hold exactly its bytes.
func (w *Writer) CopyTensor(name string, r io.Reader) error {
	if err := w.BeginTensor(name); err != nil {
		return err
	}
	want := w.left
	n, err := io.Copy(w, io.LimitReader(r, want))
	if err != nil {
		return w.fail(err)
	}
	if n != want {
		return w.fail(fmt.Errorf("safetensors: tensor %q: the source gave %d of its %d bytes", name, n, want))
	}
	return nil
}

// Close checks that every declared tensor was written in full. It does not close the
// underlying io.Writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.left > 0 {
		return w.fail(fmt.Errorf("safetensors: tensor %q is missing %d bytes", w.tensors[w.next-1].Name, w.left))
	}
	if w.next < len(w.tensors) {
		return w.fail(fmt.Errorf("safetensors: %d declared tensors were never written, the first is %q", len(w.tensors)-w.next, w.tensors[w.next].Name))
	}
	return nil
}

func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return err
}

var _ ckpt.Sink = (*Writer)(nil)
