package ckpt

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DisplayName is a tensor name (or a metadata key, a zip record's name, any string
// from a file) as it may be shown to a person: unchanged when it is printable text,
// else quoted with Go's escapes (strconv.Quote). A name is data from a possibly
// hostile file: raw, a control character in it could recolour or rewrite the
// terminal, or forge a line of output, and a bidi override could make one name look
// like another.
func DisplayName(s string) string {
	if s != "" && isPrintable(s) {
		return s
	}
	return strconv.Quote(s)
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}

// EscapeControls writes the characters of s that are not printable (control
// characters, bidi overrides, invalid UTF-8) as Go escapes, keeping line breaks and
// tabs: the last defence for a whole message, such as an error about to be printed,
// in which some name was not passed through DisplayName.
func EscapeControls(s string) string {
	if isPrintableText(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' || r == '\t' || strconv.IsPrint(r):
			b.WriteString(s[i : i+size])
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}

func isPrintableText(s string) bool {
	for _, r := range s {
		if r != '\n' && r != '\t' && (r == utf8.RuneError || !strconv.IsPrint(r)) {
			return false
		}
	}
	return true
}
