package gguf

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Metadata values become strings for ckpt.Source.Metadata:
//
//   - scalars plainly: 4096, -3, 1e-05, true, llama (a string as it is);
//   - arrays as JSON: ["<unk>","<s>"], [1,2,3], nested arrays nested;
//   - an array of more than MaxArrayItems items abbreviated to a JSON object
//     giving its element type, its count and its first ArrayPreview items,
//     {"type":"string","count":32000,"first":["<unk>","<s>",...]}, so that a
//     tokenizer's vocabulary does not swamp `ladle inspect`. The items left
//     out are still read and checked, but not kept.
//
// Non-finite floats, which JSON has no numbers for, appear in arrays as the
// strings "NaN", "+Inf" and "-Inf".
const (
	MaxArrayItems = 16
	ArrayPreview  = 8
)

// maxArrayDepth bounds the nesting of arrays in arrays, which costs stack.
const maxArrayDepth = 32

// valueType reads a value's 4-byte type.
func (d *decoder) valueType(what string) (valueType, error) {
	v, err := d.u32(what + " value type")
	if err != nil {
		return 0, err
	}
	t := valueType(v)
	if !t.valid() {
		return 0, d.fail(ErrValueType, "%s has value type %d, which GGUF does not define (0 to %d)", what, v, numValueTypes-1)
	}
	return t, nil
}

// value reads a metadata value of type t and returns it as Metadata shows it.
func (d *decoder) value(t valueType, what string) (string, error) {
	if t == tArray {
		var b strings.Builder
		err := d.array(&b, what, 0)
		return b.String(), err
	}
	return d.scalar(t, what)
}

// scalar reads a value that is not an array and formats it plainly.
func (d *decoder) scalar(t valueType, what string) (string, error) {
	if t == tString {
		return d.str(what)
	}
	var u uint64
	var err error
	switch t.fixedSize() {
	case 1:
		var v uint8
		v, err = d.u8(what)
		u = uint64(v)
	case 2:
		var v uint16
		v, err = d.u16(what)
		u = uint64(v)
	case 4:
		var v uint32
		v, err = d.u32(what)
		u = uint64(v)
	case 8:
		u, err = d.u64(what)
	}
	if err != nil {
		return "", err
	}
	switch t {
	case tUint8, tUint16, tUint32, tUint64:
		return strconv.FormatUint(u, 10), nil
	case tInt8:
		return strconv.FormatInt(int64(int8(u)), 10), nil
	case tInt16:
		return strconv.FormatInt(int64(int16(u)), 10), nil
	case tInt32:
		return strconv.FormatInt(int64(int32(u)), 10), nil
	case tInt64:
		return strconv.FormatInt(int64(u), 10), nil
	case tFloat32:
		return strconv.FormatFloat(float64(math.Float32frombits(uint32(u))), 'g', -1, 32), nil
	case tFloat64:
		return strconv.FormatFloat(math.Float64frombits(u), 'g', -1, 64), nil
	case tBool:
		// The GGUF specification makes any byte but 0 and 1 invalid.
		if u > 1 {
			return "", d.fail(ErrBadValue, "%s is a bool stored as %d, not 0 or 1", what, u)
		}
		return strconv.FormatBool(u == 1), nil
	}
	return "", d.fail(ErrValueType, "%s: %s is not a scalar type", what, t)
}

// array reads an array (element type, count, items) and writes its JSON form to b.
func (d *decoder) array(b *strings.Builder, what string, depth int) error {
	if depth >= maxArrayDepth {
		return d.fail(ErrTooDeep, "%s nests arrays more than %d deep", what, maxArrayDepth)
	}
	et, err := d.valueType(what + " array")
	if err != nil {
		return err
	}
	n, err := d.length(what+" array", et.minSize())
	if err != nil {
		return err
	}
	keep := n
	if n > MaxArrayItems {
		keep = ArrayPreview
		b.WriteString(`{"type":`)
		b.WriteString(jsonString(et.String()))
		b.WriteString(`,"count":`)
		b.WriteString(strconv.FormatInt(n, 10))
		b.WriteString(`,"first":`)
	}
	b.WriteByte('[')
	for i := range keep {
		if i > 0 {
			b.WriteByte(',')
		}
		if et == tArray {
			if err := d.array(b, what, depth+1); err != nil {
				return err
			}
			continue
		}
		s, err := d.scalar(et, what)
		if err != nil {
			return err
		}
		b.WriteString(jsonScalar(et, s))
	}
	b.WriteByte(']')
	if n > keep {
		b.WriteByte('}')
	}
	return d.skipItems(et, n-keep, what, depth)
}

// skipItems passes over n items of type t, checking them as array does.
func (d *decoder) skipItems(t valueType, n int64, what string, depth int) error {
	switch t {
	case tString:
		for range n {
			if err := d.skipStr(what); err != nil {
				return err
			}
		}
	case tArray:
		for range n {
			if err := d.skipArray(what, depth+1); err != nil {
				return err
			}
		}
	case tBool:
		// Bools are checked one by one: only 0 and 1 are valid.
		for range n {
			if _, err := d.scalar(t, what); err != nil {
				return err
			}
		}
	default:
		// n items of this size fit in the file: length checked that.
		return d.skip(n*t.fixedSize(), what)
	}
	return nil
}

func (d *decoder) skipArray(what string, depth int) error {
	if depth >= maxArrayDepth {
		return d.fail(ErrTooDeep, "%s nests arrays more than %d deep", what, maxArrayDepth)
	}
	et, err := d.valueType(what + " array")
	if err != nil {
		return err
	}
	n, err := d.length(what+" array", et.minSize())
	if err != nil {
		return err
	}
	return d.skipItems(et, n, what, depth)
}

// jsonScalar is the JSON form of a scalar formatted by scalar.
func jsonScalar(t valueType, s string) string {
	switch {
	case t == tString:
		return jsonString(s)
	case (t == tFloat32 || t == tFloat64) && (s == "NaN" || s == "+Inf" || s == "-Inf"):
		return `"` + s + `"`
	}
	return s
}

// jsonString quotes s for JSON without escaping <, > and & (tokens such as
// "<unk>" stay readable).
func jsonString(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // cannot fail for a string
	return strings.TrimSuffix(buf.String(), "\n")
}
