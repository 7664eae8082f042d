package pytorch

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/nlpodyssey/gopickle/pickle"
)

// maxPickleBytes bounds one pickle stream. A state dict's pickle takes about a
// hundred bytes per tensor (a few MB for the largest models); only pickles
// that inline large non-tensor blobs come near this. It also bounds what a
// compressed data.pkl (which torch never writes) may inflate to.
const maxPickleBytes = 256 << 20

// maxLongBytes bounds LONG/LONG1/LONG4 arguments: gopickle decodes big integers
// in quadratic time, and torch only pickles small ones (the 10-byte magic number).
const maxLongBytes = 1024

// maxLineBytes bounds the newline-terminated arguments of protocol 0 opcodes.
const maxLineBytes = 1 << 20

// odictModule replaces "collections" in GLOBAL/INST opcodes naming
// collections.OrderedDict. gopickle resolves that class itself, before
// FindClass, to a class whose constructor refuses arguments, while
// OrderedDict([(k, v), ...]) appears in real files. The replacement has the same
// length so FRAME sizes stay right.
const odictModule = "ladle.odict"

// errPickle marks errors found while scanning a pickle stream.
var errPickle = errors.New("malformed pickle")

// readPickle reads one pickle stream that starts at off in r and must end (with
// STOP) before limit. It walks the opcodes the way gopickle will, so that it
// knows where the stream ends (the legacy format puts raw data right after it),
// and checks every length argument against the bytes that remain: gopickle
// allocates a length before reading it, so an unchecked hostile length would
// exhaust memory. It returns the stream's bytes (with the OrderedDict rewrite
// described at odictModule).
func readPickle(r io.ReaderAt, off, limit int64) ([]byte, error) {
	if off < 0 || limit < off {
		return nil, fmt.Errorf("%w: starts past the end of the file", errPickle)
	}
	sc := &scanner{
		br:   bufio.NewReaderSize(&growingReader{r: r, off: off, limit: limit, next: 512}, 64<<10),
		left: limit - off,
	}
	for {
		op, err := sc.byte()
		if err != nil {
			return nil, err
		}
		if err := sc.arg(op); err != nil {
			return nil, err
		}
		if op == '.' {
			return sc.out.Bytes(), nil
		}
	}
}

// growingReader reads r from off to limit in chunks that start small and
// double up to 64 KiB. A legacy file's pickle is followed by tensor data, and
// its length is only known once it is scanned: small first reads keep Open
// from reading much past a small pickle, large later ones keep the number of
// reads low for a large pickle (each read may be a round trip in a browser).
type growingReader struct {
	r          io.ReaderAt
	off, limit int64
	next       int
}

func (g *growingReader) Read(p []byte) (int, error) {
	if g.off >= g.limit {
		return 0, io.EOF
	}
	n := int64(min(len(p), g.next))
	n = min(n, g.limit-g.off)
	g.next = min(2*g.next, 64<<10)
	m, err := g.r.ReadAt(p[:n], g.off)
	g.off += int64(m)
	if err == io.EOF && m > 0 {
		err = nil
	}
	return m, err
}

type scanner struct {
	br   *bufio.Reader
	left int64 // bytes of the section not read yet
	out  bytes.Buffer
}

func (s *scanner) eof() error {
	return fmt.Errorf("%w: the stream ends before its STOP opcode", errPickle)
}

func (s *scanner) byte() (byte, error) {
	if s.left < 1 {
		return 0, s.eof()
	}
	b, err := s.br.ReadByte()
	if err != nil {
		return 0, s.readErr(err)
	}
	s.left--
	if s.out.Len() >= maxPickleBytes {
		return 0, fmt.Errorf("%w: larger than %d bytes", errPickle, maxPickleBytes)
	}
	s.out.WriteByte(b)
	return b, nil
}

func (s *scanner) readErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return s.eof()
	}
	return err
}

// fixed copies n argument bytes and returns them.
func (s *scanner) fixed(n int64) ([]byte, error) {
	if n > s.left {
		return nil, s.eof()
	}
	if int64(s.out.Len())+n > maxPickleBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", errPickle, maxPickleBytes)
	}
	start := s.out.Len()
	if _, err := io.CopyN(&s.out, s.br, n); err != nil {
		return nil, s.readErr(err)
	}
	s.left -= n
	return s.out.Bytes()[start:], nil
}

// counted reads a little-endian length of width bytes, then that many bytes.
func (s *scanner) counted(width int, signed bool, max int64) error {
	b, err := s.fixed(int64(width))
	if err != nil {
		return err
	}
	var n int64
	switch width {
	case 1:
		n = int64(b[0])
	case 4:
		if signed {
			n = int64(int32(binary.LittleEndian.Uint32(b)))
		} else {
			n = int64(binary.LittleEndian.Uint32(b))
		}
	case 8:
		u := binary.LittleEndian.Uint64(b)
		if u > uint64(s.left) {
			return s.eof()
		}
		n = int64(u)
	}
	if n < 0 {
		return fmt.Errorf("%w: negative length %d", errPickle, n)
	}
	if n > max {
		return fmt.Errorf("%w: argument of %d bytes is longer than allowed (%d)", errPickle, n, max)
	}
	_, err = s.fixed(n)
	return err
}

// line reads a newline-terminated argument and returns it without the newline.
func (s *scanner) line(max int) ([]byte, error) {
	var l []byte
	for {
		if s.left < 1 {
			return nil, s.eof()
		}
		b, err := s.br.ReadByte()
		if err != nil {
			return nil, s.readErr(err)
		}
		s.left--
		if b == '\n' {
			return l, nil
		}
		if len(l) >= max {
			return nil, fmt.Errorf("%w: text argument longer than %d bytes", errPickle, max)
		}
		l = append(l, b)
	}
}

func (s *scanner) writeLine(l []byte) error {
	if s.out.Len()+len(l)+1 > maxPickleBytes {
		return fmt.Errorf("%w: larger than %d bytes", errPickle, maxPickleBytes)
	}
	s.out.Write(l)
	s.out.WriteByte('\n')
	return nil
}

// arg consumes the argument of opcode op (the table of pickletools.opcodes).
func (s *scanner) arg(op byte) error {
	switch op {
	// No argument.
	case '(', '.', '0', '1', '2', 'N', 'Q', 'R', 'a', 'b', 'd', '}', 'e', 'l', ']', 'o', 's', 't', ')', 'u',
		0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x97, 0x98:
		return nil
	// Fixed-size arguments.
	case 0x80, 'K', 'h', 'q', 0x82:
		_, err := s.fixed(1)
		return err
	case 'M', 0x83:
		_, err := s.fixed(2)
		return err
	case 'J', 'j', 'r', 0x84:
		_, err := s.fixed(4)
		return err
	case 'G':
		_, err := s.fixed(8)
		return err
	case 0x95: // FRAME: the frame's bytes are the opcodes that follow.
		b, err := s.fixed(8)
		if err != nil {
			return err
		}
		if binary.LittleEndian.Uint64(b) > uint64(s.left) {
			return s.eof()
		}
		return nil
	// Counted arguments.
	case 'U', 'C', 0x8c:
		return s.counted(1, false, 255)
	case 0x8a:
		return s.counted(1, false, maxLongBytes)
	case 'T':
		return s.counted(4, true, maxPickleBytes)
	case 'B', 'X':
		return s.counted(4, false, maxPickleBytes)
	case 0x8b:
		return s.counted(4, true, maxLongBytes)
	case 0x8d, 0x8e, 0x96:
		return s.counted(8, false, maxPickleBytes)
	// Newline-terminated arguments.
	case 'L':
		l, err := s.line(maxLongBytes)
		if err != nil {
			return err
		}
		return s.writeLine(l)
	case 'I', 'F', 'S', 'V', 'P', 'g', 'p':
		l, err := s.line(maxLineBytes)
		if err != nil {
			return err
		}
		return s.writeLine(l)
	case 'c', 'i':
		mod, err := s.line(maxLineBytes)
		if err != nil {
			return err
		}
		name, err := s.line(maxLineBytes)
		if err != nil {
			return err
		}
		if string(mod) == "collections" && string(name) == "OrderedDict" {
			mod = []byte(odictModule)
		}
		if err := s.writeLine(mod); err != nil {
			return err
		}
		return s.writeLine(name)
	}
	return fmt.Errorf("%w: unknown opcode 0x%02x", errPickle, op)
}

// unpickle runs gopickle over a stream returned by readPickle. gopickle panics
// on some malformed streams (an odd SETITEMS, an unhashable set member, ...);
// those panics become errors here.
func unpickle(data []byte, findClass func(module, name string) (any, error), persistentLoad func(any) (any, error)) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("%w: %v", errPickle, p)
		}
	}()
	u := pickle.NewUnpickler(bytes.NewReader(data))
	u.FindClass = findClass
	u.PersistentLoad = persistentLoad
	if persistentLoad == nil {
		u.PersistentLoad = func(any) (any, error) {
			return nil, errors.New("unexpected persistent id")
		}
	}
	v, err = u.Load()
	if err != nil {
		if errors.Is(err, errPickle) || isTyped(err) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errPickle, err)
	}
	return v, nil
}
