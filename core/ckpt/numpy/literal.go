package numpy

import (
	"fmt"
	"math"
	"strings"
)

// The .npy header is a Python literal (repr of a dict), which numpy reads with
// ast.literal_eval. This file parses the subset such headers use: strings, integers
// (with Python 2's L suffix), True, False, None, tuples, lists and dicts. It is a
// parser of data only; nothing is evaluated.

// pyTuple and pyList are Python's two sequence literals; numpy tells them apart
// (a shape must be a tuple, a structured descr is a list).
type (
	pyTuple []any
	pyList  []any
)

// pyDict keeps a dict literal's items in order; numpy headers are small, so a
// slice is enough.
type pyDict struct {
	keys   []any
	values []any
}

// get returns the value for a string key.
func (d *pyDict) get(key string) (any, bool) {
	for i, k := range d.keys {
		if s, ok := k.(string); ok && s == key {
			return d.values[i], true
		}
	}
	return nil, false
}

// maxLiteralDepth bounds nesting, so that a hostile header of many brackets
// cannot exhaust the stack.
const maxLiteralDepth = 32

type literalParser struct {
	s   string
	pos int
}

// parseLiteral parses s as one Python literal followed only by whitespace.
func parseLiteral(s string) (any, error) {
	p := &literalParser{s: s}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(p.s) {
		return nil, p.errorf("unexpected %q after the literal", p.rest())
	}
	return v, nil
}

func (p *literalParser) errorf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: %s", p.pos, fmt.Sprintf(format, args...))
}

// rest shows a little of what follows, for messages.
func (p *literalParser) rest() string {
	r := p.s[p.pos:]
	if len(r) > 12 {
		r = r[:12] + "..."
	}
	return r
}

func (p *literalParser) space() {
	for p.pos < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.pos]) >= 0 {
		p.pos++
	}
}

func (p *literalParser) value(depth int) (any, error) {
	if depth > maxLiteralDepth {
		return nil, p.errorf("nested more than %d deep", maxLiteralDepth)
	}
	p.space()
	if p.pos >= len(p.s) {
		return nil, p.errorf("unexpected end of header")
	}
	switch c := p.s[p.pos]; {
	case c == '\'' || c == '"':
		s, err := p.str(c)
		return s, err
	case c == '(':
		items, err := p.sequence(')', depth)
		return pyTuple(items), err
	case c == '[':
		items, err := p.sequence(']', depth)
		return pyList(items), err
	case c == '{':
		d, err := p.dict(depth)
		return d, err
	case c == '-' || c == '+' || ('0' <= c && c <= '9'):
		n, err := p.integer()
		return n, err
	}
	for _, w := range []struct {
		word string
		v    any
	}{{"True", true}, {"False", false}, {"None", nil}} {
		if strings.HasPrefix(p.s[p.pos:], w.word) {
			p.pos += len(w.word)
			return w.v, nil
		}
	}
	return nil, p.errorf("unexpected %q", p.rest())
}

// str reads a quoted string. Escapes are decoded as Python does for the
// common cases; numpy writes none in the headers Ladle reads.
func (p *literalParser) str(quote byte) (string, error) {
	p.pos++ // the opening quote
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		p.pos++
		switch {
		case c == quote:
			return b.String(), nil
		case c == '\n':
			return "", p.errorf("newline inside a string")
		case c == '\\' && p.pos < len(p.s):
			e := p.s[p.pos]
			p.pos++
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", p.errorf("unterminated string")
}

// integer reads a decimal integer that fits an int64, with an optional L suffix
// (Python 2 wrote long dimensions as 10L).
func (p *literalParser) integer() (int64, error) {
	neg := false
	if c := p.s[p.pos]; c == '-' || c == '+' {
		neg = c == '-'
		p.pos++
	}
	start := p.pos
	var n uint64
	for p.pos < len(p.s) && '0' <= p.s[p.pos] && p.s[p.pos] <= '9' {
		d := uint64(p.s[p.pos] - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, p.errorf("integer does not fit in 64 bits")
		}
		n = n*10 + d
		p.pos++
	}
	if p.pos == start {
		return 0, p.errorf("expected digits")
	}
	if p.pos < len(p.s) && (p.s[p.pos] == 'L' || p.s[p.pos] == 'l') {
		p.pos++
	}
	if neg {
		return -int64(n), nil
	}
	return int64(n), nil
}

// sequence reads the items of a tuple or list up to the closing bracket;
// a trailing comma is allowed, as in Python.
func (p *literalParser) sequence(end byte, depth int) ([]any, error) {
	p.pos++ // the opening bracket
	items := []any{}
	for {
		p.space()
		if p.pos < len(p.s) && p.s[p.pos] == end {
			p.pos++
			return items, nil
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		items = append(items, v)
		p.space()
		if p.pos >= len(p.s) {
			return nil, p.errorf("unexpected end of header")
		}
		switch p.s[p.pos] {
		case ',':
			p.pos++
		case end:
		default:
			return nil, p.errorf("expected ',' or %q, found %q", end, p.rest())
		}
	}
}

func (p *literalParser) dict(depth int) (*pyDict, error) {
	p.pos++ // '{'
	d := &pyDict{}
	for {
		p.space()
		if p.pos < len(p.s) && p.s[p.pos] == '}' {
			p.pos++
			return d, nil
		}
		k, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		p.space()
		if p.pos >= len(p.s) || p.s[p.pos] != ':' {
			return nil, p.errorf("expected ':' after a dict key")
		}
		p.pos++
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		d.keys = append(d.keys, k)
		d.values = append(d.values, v)
		p.space()
		if p.pos >= len(p.s) {
			return nil, p.errorf("unexpected end of header")
		}
		switch p.s[p.pos] {
		case ',':
			p.pos++
		case '}':
		default:
			return nil, p.errorf("expected ',' or '}', found %q", p.rest())
		}
	}
}

// pyTypeName names a parsed literal's type for messages.
func pyTypeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case bool:
		return "a bool"
	case nil:
		return "None"
	case pyTuple:
		return "a tuple"
	case pyList:
		return "a list"
	case *pyDict:
		return "a dict"
	}
	return fmt.Sprintf("%T", v)
}
