package pytorch

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// machine runs a pickle's opcodes over kinds of values instead of values,
// before gopickle runs them. gopickle has no hooks to bound its stack or memo
// or to stop an opcode that cannot work, and its errors print whole values
// (%#v of a 2 MB string), so this pre-scan does it: it keeps gopickle's stack
// (MARKs open a new frame) and memo as kinds, refuses what the pickle budget
// does not allow, refuses opcodes applied to a kind of value that cannot take
// them (REDUCE on a string, BUILD on a list) with a short message naming what
// was called, and adds up an estimate of what gopickle will allocate.
//
// Kinds it cannot know (what a call returns, a persistent object) are
// unknown, and gopickle and the class hooks decide about them.
type machine struct {
	stack  []value
	marks  []int // stack heights at the open MARKs
	memo   map[int]value
	names  []string // globals seen, for messages
	index  map[string]uint32
	stream func() []byte // the stream so far, where string values are
	budget *budget
}

// kind is what the machine knows of a value.
type kind uint8

const (
	kUnknown   kind = iota // a call's result, a persistent object, ...
	kNone                  // plain data kinds follow: no opcode can call, build or fill them
	kBool                  //
	kInt                   //
	kFloat                 //
	kStr                   //
	kBytes                 //
	kTuple                 //
	kList                  //
	kDict                  //
	kSet                   //
	kFrozenSet             //
	kGlobal                // a class or function named by GLOBAL, INST or STACK_GLOBAL
	kCall                  // what calling a global returned
)

// value is one stack or memo entry: its kind and, for a global or a call's
// result, the global's name (names[ref-1]); for a short string, where its
// bytes are in the stream (ref-1) and how many (n).
type value struct {
	kind kind
	n    uint16
	ref  uint32
}

func newMachine(stream func() []byte, b *budget) *machine {
	return &machine{memo: map[int]value{}, index: map[string]uint32{}, stream: stream, budget: b}
}

// Estimated bytes gopickle allocates, beyond costPush for any value it pushes.
const (
	costPush      = 16  // a stack slot, a boxed number
	costMark      = 280 // a new 16-slot frame
	costContainer = 96  // an empty list, tuple or set header
	costDict      = 160 // an empty dict (four entries)
	costItem      = 32  // one list or tuple item appended
	costPair      = 128 // one dict entry set
	costGlobal    = 96  // a resolved class, plus its name
	costCall      = 256 // the object a call builds
	costMemo      = 64  // one memo entry
)

// isData reports whether k is plain data: a value no opcode can call, build
// or fill (besides the containers' own APPEND, SETITEM and ADDITEMS).
func isData(k kind) bool { return k >= kNone && k <= kFrozenSet }

func (m *machine) describe(v value) string {
	switch v.kind {
	case kNone:
		return "None"
	case kBool:
		return "a bool"
	case kInt:
		return "an integer"
	case kFloat:
		return "a float"
	case kStr:
		if s, ok := m.str(v); ok {
			return "the string " + strconv.Quote(shortName(s))
		}
		return "a string"
	case kBytes:
		return "bytes"
	case kTuple:
		return "a tuple"
	case kList:
		return "a list"
	case kDict:
		return "a dict"
	case kSet:
		return "a set"
	case kFrozenSet:
		return "a frozenset"
	case kGlobal:
		return "the global " + m.name(v)
	case kCall:
		return "what " + m.name(v) + " returned"
	}
	return "a value"
}

// shortName cuts a name quoted in a message to 80 bytes.
func shortName(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func (m *machine) name(v value) string {
	if v.ref == 0 || int(v.ref) > len(m.names) {
		return "?"
	}
	return m.names[v.ref-1]
}

// str returns a short string's value, kept as its place in the stream.
func (m *machine) str(v value) (string, bool) {
	if v.kind != kStr || v.ref == 0 {
		return "", false
	}
	b := m.stream()
	start, end := int(v.ref-1), int(v.ref-1)+int(v.n)
	if end > len(b) {
		return "", false
	}
	return string(b[start:end]), true
}

// global interns a global's name.
func (m *machine) global(module, name string) value {
	full := shortName(module + "." + name)
	i, ok := m.index[full]
	if !ok {
		m.names = append(m.names, full)
		i = uint32(len(m.names))
		m.index[full] = i
	}
	return value{kind: kGlobal, ref: i}
}

func opError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errPickle, fmt.Sprintf(format, args...))
}

func (m *machine) frame() int {
	if len(m.marks) == 0 {
		return len(m.stack)
	}
	return len(m.stack) - m.marks[len(m.marks)-1]
}

func (m *machine) push(v value) error {
	if len(m.stack) >= maxStack {
		return overBudget("the unpickler's stack would hold more than %d values", maxStack)
	}
	m.stack = append(m.stack, v)
	return nil
}

func (m *machine) pop(op string) (value, error) {
	if m.frame() == 0 {
		return value{}, opError("%s finds no value on the stack", op)
	}
	v := m.stack[len(m.stack)-1]
	m.stack = m.stack[:len(m.stack)-1]
	return v, nil
}

func (m *machine) top(op string) (value, error) {
	if m.frame() == 0 {
		return value{}, opError("%s finds no value on the stack", op)
	}
	return m.stack[len(m.stack)-1], nil
}

// popMark pops the values above the last MARK and the MARK; the result is
// valid until the next push.
func (m *machine) popMark(op string) ([]value, error) {
	if len(m.marks) == 0 {
		return nil, opError("%s without a MARK", op)
	}
	at := m.marks[len(m.marks)-1]
	m.marks = m.marks[:len(m.marks)-1]
	items := m.stack[at:]
	m.stack = m.stack[:at]
	return items, nil
}

func (m *machine) put(i int, op string) error {
	v, err := m.top(op)
	if err != nil {
		return err
	}
	if _, ok := m.memo[i]; !ok {
		if len(m.memo) >= maxMemo {
			return overBudget("the unpickler's memo would hold more than %d entries", maxMemo)
		}
		if err := m.budget.charge(costMemo, "unpickling"); err != nil {
			return err
		}
	}
	m.memo[i] = v
	return nil
}

func (m *machine) get(i int, op string) error {
	v, ok := m.memo[i]
	if !ok {
		return opError("%s of memo entry %d, which was never stored", op, i)
	}
	return m.push(v)
}

// callee checks what REDUCE, NEWOBJ or OBJ calls.
func (m *machine) callee(op string, v value) (value, error) {
	if isData(v.kind) {
		return value{}, opError("%s calls %s, not a class or function", op, m.describe(v))
	}
	return value{kind: kCall, ref: v.ref}, nil
}

// args checks that a call's arguments are a tuple.
func (m *machine) args(op string, v value) error {
	if isData(v.kind) && v.kind != kTuple {
		return opError("%s arguments are %s, not a tuple", op, m.describe(v))
	}
	return nil
}

// target checks the value an opcode fills or builds: one of the plain kinds
// in ok, or a kind the machine does not know.
func (m *machine) target(op string, v value, ok ...kind) error {
	if !isData(v.kind) && v.kind != kGlobal {
		return nil
	}
	for _, k := range ok {
		if v.kind == k {
			return nil
		}
	}
	return opError("%s on %s", op, m.describe(v))
}

// step runs one opcode. arg is its argument as the stream holds it (for a
// counted argument, the bytes counted; for GLOBAL and INST, the module, with
// the name in arg2); at is where arg starts in the stream.
func (m *machine) step(op byte, arg, arg2 []byte, at int) error {
	charge := func(n int64) error { return m.budget.charge(n, "unpickling") }
	pushKind := func(k kind, extra int64) error {
		if err := charge(costPush + extra); err != nil {
			return err
		}
		return m.push(value{kind: k})
	}
	switch op {
	case 0x80, 0x95: // PROTO; FRAME (gopickle reads the frame into a buffer)
		if op == 0x95 {
			return charge(int64(binary.LittleEndian.Uint64(arg)))
		}
		return nil
	case '.': // STOP
		_, err := m.pop("STOP")
		return err
	case '(':
		if len(m.marks) >= maxMarks {
			return overBudget("the pickle nests more than %d MARKs", maxMarks)
		}
		m.marks = append(m.marks, len(m.stack))
		return charge(costMark)
	case '0': // POP: gopickle pops the MARK when the frame is empty
		if m.frame() == 0 {
			_, err := m.popMark("POP")
			return err
		}
		_, err := m.pop("POP")
		return err
	case '1':
		_, err := m.popMark("POP_MARK")
		return err
	case '2':
		v, err := m.top("DUP")
		if err != nil {
			return err
		}
		if err := charge(costPush); err != nil {
			return err
		}
		return m.push(v)
	case 'N':
		return pushKind(kNone, 0)
	case 0x88, 0x89:
		return pushKind(kBool, 0)
	case 'K', 'M', 'J', 'I':
		return pushKind(kInt, costPush)
	case 'L', 0x8a, 0x8b:
		return pushKind(kInt, 2*int64(len(arg))+64)
	case 'F', 'G':
		return pushKind(kFloat, costPush)
	case 'S', 'T', 'U', 'V', 'X', 0x8c, 0x8d:
		if err := charge(costPush + 2*int64(len(arg)) + 32); err != nil {
			return err
		}
		v := value{kind: kStr}
		if len(arg) <= 0xffff && op != 'S' && op != 'V' { // protocol 0 strings are escaped
			v.n, v.ref = uint16(len(arg)), uint32(at+1)
		}
		return m.push(v)
	case 'B', 'C', 0x8e, 0x96:
		return pushKind(kBytes, 2*int64(len(arg))+32)
	case ')':
		return pushKind(kTuple, costContainer)
	case ']':
		return pushKind(kList, costContainer)
	case '}':
		return pushKind(kDict, costDict)
	case 0x8f:
		return pushKind(kSet, costContainer)
	case 't', 'l', 0x91: // TUPLE, LIST, FROZENSET
		items, err := m.popMark(map[byte]string{'t': "TUPLE", 'l': "LIST", 0x91: "FROZENSET"}[op])
		if err != nil {
			return err
		}
		k, extra := kTuple, int64(costContainer)
		switch op {
		case 'l':
			k = kList
		case 0x91:
			k, extra = kFrozenSet, costContainer+costPair*int64(len(items))
		}
		return pushKind(k, extra)
	case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
		for i := 0; i <= int(op-0x85); i++ {
			if _, err := m.pop("TUPLE" + strconv.Itoa(int(op-0x84))); err != nil {
				return err
			}
		}
		return pushKind(kTuple, costContainer+costItem*int64(op-0x84))
	case 'd': // DICT
		items, err := m.popMark("DICT")
		if err != nil {
			return err
		}
		if len(items)%2 != 0 {
			return opError("DICT with an odd number (%d) of keys and values", len(items))
		}
		return pushKind(kDict, costDict+costPair*int64(len(items)/2))
	case 'a': // APPEND
		if _, err := m.pop("APPEND"); err != nil {
			return err
		}
		list, err := m.top("APPEND")
		if err != nil {
			return err
		}
		if err := m.target("APPEND", list, kList); err != nil {
			return err
		}
		return charge(costItem)
	case 'e', 'u', 0x90: // APPENDS, SETITEMS, ADDITEMS
		name := map[byte]string{'e': "APPENDS", 'u': "SETITEMS", 0x90: "ADDITEMS"}[op]
		items, err := m.popMark(name)
		if err != nil {
			return err
		}
		n := int64(len(items))
		into, err := m.top(name)
		if err != nil {
			return err
		}
		switch op {
		case 'e':
			err = m.target(name, into, kList)
			n *= costItem
		case 'u':
			if len(items)%2 != 0 {
				return opError("SETITEMS with an odd number (%d) of keys and values", len(items))
			}
			err = m.target(name, into, kDict)
			n *= costPair / 2
		default:
			err = m.target(name, into, kSet)
			n *= costPair
		}
		if err != nil {
			return err
		}
		return charge(n)
	case 's': // SETITEM
		for range 2 {
			if _, err := m.pop("SETITEM"); err != nil {
				return err
			}
		}
		d, err := m.top("SETITEM")
		if err != nil {
			return err
		}
		if err := m.target("SETITEM", d, kDict); err != nil {
			return err
		}
		return charge(costPair)
	case 'b': // BUILD
		if _, err := m.pop("BUILD"); err != nil {
			return err
		}
		obj, err := m.top("BUILD")
		if err != nil {
			return err
		}
		if err := m.target("BUILD", obj); err != nil {
			return err
		}
		return charge(costPush)
	case 'c': // GLOBAL
		if err := charge(costPush + costGlobal + int64(len(arg)+len(arg2))); err != nil {
			return err
		}
		return m.push(m.global(string(arg), string(arg2)))
	case 0x93: // STACK_GLOBAL
		name, err := m.pop("STACK_GLOBAL")
		if err != nil {
			return err
		}
		module, err := m.pop("STACK_GLOBAL")
		if err != nil {
			return err
		}
		for _, v := range []value{module, name} {
			if isData(v.kind) && v.kind != kStr {
				return opError("STACK_GLOBAL names a global with %s, not a string", m.describe(v))
			}
		}
		mod, _ := m.str(module)
		n, _ := m.str(name)
		if err := charge(costPush + costGlobal + int64(len(mod)+len(n))); err != nil {
			return err
		}
		if mod == "" && n == "" {
			return m.push(value{kind: kGlobal})
		}
		return m.push(m.global(mod, n))
	case 'i': // INST: calls the global on the values above the MARK
		if _, err := m.popMark("INST"); err != nil {
			return err
		}
		if err := charge(costPush + costGlobal + costCall + int64(len(arg)+len(arg2))); err != nil {
			return err
		}
		g := m.global(string(arg), string(arg2))
		return m.push(value{kind: kCall, ref: g.ref})
	case 'o': // OBJ: the first value above the MARK is called on the others
		items, err := m.popMark("OBJ")
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return opError("OBJ without a class")
		}
		v, err := m.callee("OBJ", items[0])
		if err != nil {
			return err
		}
		if err := charge(costPush + costCall); err != nil {
			return err
		}
		return m.push(v)
	case 'R', 0x81, 0x92: // REDUCE, NEWOBJ, NEWOBJ_EX
		name := map[byte]string{'R': "REDUCE", 0x81: "NEWOBJ", 0x92: "NEWOBJ_EX"}[op]
		if op == 0x92 {
			if _, err := m.pop(name); err != nil { // keyword arguments
				return err
			}
		}
		args, err := m.pop(name)
		if err != nil {
			return err
		}
		fn, err := m.pop(name)
		if err != nil {
			return err
		}
		v, err := m.callee(name, fn)
		if err != nil {
			return err
		}
		if err := m.args(name, args); err != nil {
			return err
		}
		if err := charge(costPush + costCall); err != nil {
			return err
		}
		return m.push(v)
	case 'P': // PERSID
		return pushKind(kUnknown, costCall)
	case 'Q': // BINPERSID
		if _, err := m.pop("BINPERSID"); err != nil {
			return err
		}
		return pushKind(kUnknown, costCall)
	case 0x98: // READONLY_BUFFER
		_, err := m.top("READONLY_BUFFER")
		return err
	case 0x97:
		return opError("NEXT_BUFFER: out-of-band buffers are not read")
	case 0x82, 0x83, 0x84:
		return opError("extension codes (EXT1, EXT2, EXT4) are not read")
	case 'p', 'q', 'r', 0x94: // PUT, BINPUT, LONG_BINPUT, MEMOIZE
		i, err := memoIndex(op, arg)
		if err != nil {
			return err
		}
		if op == 0x94 {
			i = len(m.memo) // as gopickle does
		}
		return m.put(i, "PUT")
	case 'g', 'h', 'j': // GET, BINGET, LONG_BINGET
		i, err := memoIndex(op, arg)
		if err != nil {
			return err
		}
		if err := charge(costPush); err != nil {
			return err
		}
		return m.get(i, "GET")
	}
	return opError("unknown opcode 0x%02x", op)
}

// memoIndex decodes the memo index argument of a PUT or GET opcode.
func memoIndex(op byte, arg []byte) (int, error) {
	switch op {
	case 'q', 'h':
		return int(arg[0]), nil
	case 'r', 'j':
		return int(binary.LittleEndian.Uint32(arg)), nil
	case 'p', 'g':
		i, err := strconv.Atoi(string(arg))
		if err != nil || i < 0 {
			return 0, opError("memo index %q is not a number", shortName(string(arg)))
		}
		return i, nil
	}
	return 0, nil
}
