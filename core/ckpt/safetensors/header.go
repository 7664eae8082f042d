package safetensors

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// maxDepth bounds the nesting of the JSON values a header may hold in fields it
// does not know, as encoding/json bounds it.
const maxDepth = 10000

// headerScanner reads a safetensors header: a JSON object whose values are
// {"dtype", "shape", "data_offsets"} objects, plus "__metadata__", a map of strings.
//
// It is a small strict JSON reader rather than encoding/json, for two reasons.
// encoding/json matches field names case-insensitively and lets a repeated field
// override the first, so {"dtype":"F32","DTYPE":"I32"} would be read as I32 here and
// as F32 by the reference implementation, which matches names exactly; this reader
// matches each field exactly and refuses one that appears twice. And it is several
// times faster than json.Decoder's tokens, which matters for headers of tens of
// thousands of tensors. Strings with escapes or non-ASCII bytes are decoded by
// encoding/json itself, so their meaning is exactly JSON's.
type headerScanner struct {
	b []byte
	i int
}

// syntaxError describes malformed JSON at the scanner's position.
type syntaxError struct {
	at  int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("at byte %d of the header: %s", e.at, e.msg) }

func (s *headerScanner) errorf(format string, args ...any) error {
	return &syntaxError{at: s.i, msg: fmt.Sprintf(format, args...)}
}

func (s *headerScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// atEnd reports whether only whitespace is left. A NUL byte is not the end: peek
// returns 0 for both, so a check for trailing data must ask this instead.
func (s *headerScanner) atEnd() bool {
	s.ws()
	return s.i >= len(s.b)
}

// peek returns the next byte after whitespace, or 0 at the end.
func (s *headerScanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

func (s *headerScanner) expect(c byte) error {
	if got := s.peek(); got != c {
		if s.atEnd() {
			return s.errorf("the header ends where %q was expected", c)
		}
		return s.errorf("found %q where %q was expected", got, c)
	}
	s.i++
	return nil
}

// str reads a JSON string. The common cases, ASCII or valid UTF-8 without escapes,
// are sliced out directly; anything else goes through encoding/json.
func (s *headerScanner) str() (string, error) {
	if err := s.expect('"'); err != nil {
		return "", err
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c == '"' {
			s.i++
			return string(s.b[start : s.i-1]), nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		s.i++
	}
	escaped := false
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			if raw := s.b[start : s.i-1]; !escaped && utf8.Valid(raw) {
				return string(raw), nil // UTF-8 text as is: what encoding/json gives too
			}
			var out string
			if err := json.Unmarshal(s.b[start-1:s.i], &out); err != nil {
				s.i = start
				return "", s.errorf("bad string: %v", err)
			}
			return out, nil
		case c == '\\':
			escaped = true
			s.i += 2
		case c < 0x20:
			return "", s.errorf("control character %q in a string", c)
		default:
			s.i++
		}
	}
	s.i = len(s.b)
	return "", s.errorf("the header ends inside a string")
}

// number reads a JSON number and returns its text and whether it is an integer
// (no fraction, no exponent).
func (s *headerScanner) number() (text []byte, integer bool, err error) {
	start := s.i
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case digits() == 0:
		return nil, false, s.errorf("expected a value")
	}
	integer = true
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return nil, false, s.errorf("a number's fraction has no digits")
		}
		integer = false
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return nil, false, s.errorf("a number's exponent has no digits")
		}
		integer = false
	}
	return s.b[start:s.i], integer, nil
}

// fieldError is well-formed JSON that is not what a field needs (a string where
// numbers belong, a fraction in a shape).
type fieldError struct{ msg string }

func (e *fieldError) Error() string { return e.msg }

// ints reads a JSON array of integers that fit in an int64. An empty array gives
// a non-nil empty slice (a scalar's shape).
func (s *headerScanner) ints(field string) ([]int64, error) {
	if s.peek() != '[' {
		if err := s.skip(0); err != nil {
			return nil, err
		}
		return nil, &fieldError{field + " must be a list of whole numbers"}
	}
	s.i++
	out := []int64{}
	if s.peek() == ']' {
		s.i++
		return out, nil
	}
	for {
		s.ws()
		if s.i >= len(s.b) || (s.b[s.i] != '-' && (s.b[s.i] < '0' || s.b[s.i] > '9')) {
			if s.i < len(s.b) && (s.b[s.i] == '"' || s.b[s.i] == '[' || s.b[s.i] == '{' || s.b[s.i] == 'n' || s.b[s.i] == 't' || s.b[s.i] == 'f') {
				if err := s.skip(0); err != nil {
					return nil, err
				}
				return nil, &fieldError{field + " must be a list of whole numbers"}
			}
			return nil, s.errorf("expected a number")
		}
		text, integer, err := s.number()
		if err != nil {
			return nil, err
		}
		if !integer {
			return nil, &fieldError{fmt.Sprintf("%s holds %s, not a whole number", field, text)}
		}
		v, err := strconv.ParseInt(string(text), 10, 64)
		if err != nil {
			return nil, &fieldError{fmt.Sprintf("%s holds %s, which does not fit in 64 bits", field, text)}
		}
		out = append(out, v)
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return out, nil
		default:
			return nil, s.errorf("expected ',' or ']' in a list")
		}
	}
}

// skip reads over one JSON value of any kind, checking that it is well formed.
func (s *headerScanner) skip(depth int) error {
	if depth > maxDepth {
		return s.errorf("values nest more than %d deep", maxDepth)
	}
	switch s.peek() {
	case '"':
		_, err := s.str()
		return err
	case '{':
		s.i++
		if s.peek() == '}' {
			s.i++
			return nil
		}
		for {
			if _, err := s.str(); err != nil {
				return err
			}
			if err := s.expect(':'); err != nil {
				return err
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			switch s.peek() {
			case ',':
				s.i++
			case '}':
				s.i++
				return nil
			default:
				return s.errorf("expected ',' or '}' in an object")
			}
		}
	case '[':
		s.i++
		if s.peek() == ']' {
			s.i++
			return nil
		}
		for {
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			switch s.peek() {
			case ',':
				s.i++
			case ']':
				s.i++
				return nil
			default:
				return s.errorf("expected ',' or ']' in a list")
			}
		}
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	_, _, err := s.number()
	return err
}

func (s *headerScanner) literal(word string) error {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return s.errorf("expected a value")
	}
	s.i += len(word)
	return nil
}

// kind names the JSON type of the next value, for messages.
func (s *headerScanner) kind() string {
	switch s.peek() {
	case '"':
		return "a string"
	case '[':
		return "a list"
	case '{':
		return "an object"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}
