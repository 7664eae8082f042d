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

// pickleStream is one scanned pickle: its bytes, and its budget with what
// the pre-scan estimated gopickle will allocate already charged.
type pickleStream struct {
	data   []byte
	budget *budget
}

// readPickle reads one pickle stream that starts at off in r and must end (with
// STOP) before limit. The legacy format puts raw data right after a pickle, so
// the stream's end is only known once its opcodes are scanned.
func readPickle(r io.ReaderAt, off, limit int64) (*pickleStream, error) {
	if off < 0 || limit < off {
		return nil, fmt.Errorf("%w: starts past the end of the file", errPickle)
	}
	br := bufio.NewReaderSize(&growingReader{r: r, off: off, limit: limit, next: 512}, 64<<10)
	return scanPickle(br, limit-off, maxPickleBytes, 0, tooLarge)
}

func tooLarge() error {
	return overBudget("the pickle is larger than %d bytes (256 MiB)", maxPickleBytes)
}

// scanPickle reads one pickle stream from br, which holds at most avail
// bytes; the stream may take at most max of them (past that, over() says
// why). It walks the opcodes the way gopickle will, so that it knows where
// the stream ends, checks every length argument against the bytes that
// remain (gopickle allocates a length before reading it, so an unchecked
// hostile length would exhaust memory), and runs the machine of simulate.go
// over them. It stops at the first opcode past a limit: nothing is read
// beyond. sizeHint, when the stream's size is known, sizes the copy it
// returns (with the OrderedDict rewrite described at odictModule).
func scanPickle(br *bufio.Reader, avail, max int64, sizeHint int64, over func() error) (*pickleStream, error) {
	s := &scanner{br: br, left: avail, max: max, over: over}
	if sizeHint > 0 {
		s.out.Grow(int(min(sizeHint, max)))
	}
	b := &budget{}
	m := newMachine(s.out.Bytes, b)
	for {
		op, err := s.byte()
		if err != nil {
			return nil, err
		}
		arg, arg2, at, err := s.arg(op)
		if err != nil {
			return nil, err
		}
		// The budget grows with the stream: a flood is stopped where it starts.
		b.limit = newBudget(s.out.Len()).limit
		if err := m.step(op, arg, arg2, at); err != nil {
			return nil, err
		}
		if op == '.' {
			return &pickleStream{data: s.out.Bytes(), budget: b}, nil
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
	max  int64 // bytes the stream may take
	over func() error
	out  bytes.Buffer
}

func (s *scanner) eof() error {
	return fmt.Errorf("%w: the stream ends before its STOP opcode (the file is truncated or damaged); copy or download it again, or save it again with torch.save", errPickle)
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
	if int64(s.out.Len()) >= s.max {
		return 0, s.over()
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

// fixed copies n argument bytes and returns them, and where they start in
// the stream.
func (s *scanner) fixed(n int64) ([]byte, int, error) {
	if n > s.left {
		return nil, 0, s.eof()
	}
	if int64(s.out.Len())+n > s.max {
		return nil, 0, s.over()
	}
	start := s.out.Len()
	if _, err := io.CopyN(&s.out, s.br, n); err != nil {
		return nil, 0, s.readErr(err)
	}
	s.left -= n
	return s.out.Bytes()[start:], start, nil
}

// counted reads a little-endian length of width bytes, then that many bytes,
// which it returns with where they start in the stream.
func (s *scanner) counted(width int, signed bool, max int64) ([]byte, int, error) {
	b, _, err := s.fixed(int64(width))
	if err != nil {
		return nil, 0, err
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
			return nil, 0, s.eof()
		}
		n = int64(u)
	}
	if n < 0 {
		return nil, 0, fmt.Errorf("%w: negative length %d", errPickle, n)
	}
	if n > max {
		return nil, 0, fmt.Errorf("%w: argument of %d bytes is longer than allowed (%d)", errPickle, n, max)
	}
	return s.fixed(n)
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
	if int64(s.out.Len()+len(l)+1) > s.max {
		return s.over()
	}
	s.out.Write(l)
	s.out.WriteByte('\n')
	return nil
}

// arg consumes the argument of opcode op (the table of pickletools.opcodes)
// and returns it as the machine needs it: the bytes of a fixed or counted
// argument and where they start, a line, or a global's module and name.
func (s *scanner) arg(op byte) (arg, arg2 []byte, at int, err error) {
	switch op {
	// No argument.
	case '(', '.', '0', '1', '2', 'N', 'Q', 'R', 'a', 'b', 'd', '}', 'e', 'l', ']', 'o', 's', 't', ')', 'u',
		0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x97, 0x98:
		return nil, nil, 0, nil
	// Fixed-size arguments.
	case 0x80, 'K', 'h', 'q', 0x82:
		arg, at, err = s.fixed(1)
	case 'M', 0x83:
		arg, at, err = s.fixed(2)
	case 'J', 'j', 'r', 0x84:
		arg, at, err = s.fixed(4)
	case 'G':
		arg, at, err = s.fixed(8)
	case 0x95: // FRAME: the frame's bytes are the opcodes that follow.
		arg, at, err = s.fixed(8)
		if err == nil && binary.LittleEndian.Uint64(arg) > uint64(s.left) {
			err = s.eof()
		}
	// Counted arguments.
	case 'U', 'C', 0x8c:
		arg, at, err = s.counted(1, false, 255)
	case 0x8a:
		arg, at, err = s.counted(1, false, maxLongBytes)
	case 'T':
		arg, at, err = s.counted(4, true, maxPickleBytes)
	case 'B', 'X':
		arg, at, err = s.counted(4, false, maxPickleBytes)
	case 0x8b:
		arg, at, err = s.counted(4, true, maxLongBytes)
	case 0x8d, 0x8e, 0x96:
		arg, at, err = s.counted(8, false, maxPickleBytes)
	// Newline-terminated arguments.
	case 'L':
		if arg, err = s.line(maxLongBytes); err == nil {
			err = s.writeLine(arg)
		}
	case 'I', 'F', 'S', 'V', 'P', 'g', 'p':
		if arg, err = s.line(maxLineBytes); err == nil {
			err = s.writeLine(arg)
		}
	case 'c', 'i':
		if arg, err = s.line(maxLineBytes); err != nil {
			return nil, nil, 0, err
		}
		if arg2, err = s.line(maxLineBytes); err != nil {
			return nil, nil, 0, err
		}
		mod := arg
		if string(mod) == "collections" && string(arg2) == "OrderedDict" {
			mod = []byte(odictModule)
		}
		if err = s.writeLine(mod); err == nil {
			err = s.writeLine(arg2)
		}
	default:
		err = fmt.Errorf("%w: unknown opcode 0x%02x", errPickle, op)
	}
	if err != nil {
		return nil, nil, 0, err
	}
	return arg, arg2, at, nil
}

// unpickle runs gopickle over a stream returned by readPickle, with b's class
// resolver, charging what the class hooks copy to the stream's budget.
// gopickle panics on some malformed streams (an unhashable set member, ...);
// those panics become errors here, and gopickle's messages, which can print
// whole values, are cut short.
func (b *builder) unpickle(p *pickleStream, persistentLoad func(any) (any, error)) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("%w: %s", errPickle, shorten(fmt.Sprint(r)))
		}
	}()
	b.budget = p.budget
	u := pickle.NewUnpickler(bytes.NewReader(p.data))
	u.FindClass = b.findClass
	u.PersistentLoad = persistentLoad
	if persistentLoad == nil {
		u.PersistentLoad = func(any) (any, error) {
			return nil, errors.New("unexpected persistent id")
		}
	}
	v, err = u.Load()
	if err != nil {
		if errors.Is(err, errPickle) || errors.Is(err, ErrBudget) || isTyped(err) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s", errPickle, shorten(err.Error()))
	}
	return v, nil
}
