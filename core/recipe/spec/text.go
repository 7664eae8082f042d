package spec

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// MetadataKey is the safetensors metadata key under which a merged checkpoint keeps
// the normalised recipe that made it.
const MetadataKey = "ladle.recipe"

// normaliser writes the canonical YAML; package recipe installs the YAML library's
// encoder (SetNormaliser). Without it, in a program that links no YAML library (the
// playground page), Normalise writes the same text with text (below), which package
// recipe's tests keep equal to the library's on the recipes a form writes and which
// always parses back to the same recipe.
var normaliser func(*Recipe) []byte

// SetNormaliser installs the canonical writer (package recipe's init).
func SetNormaliser(f func(*Recipe) []byte) { normaliser = f }

// Normalise writes the recipe back as canonical YAML: mergekit's keys in a fixed
// order, parameters sorted by name, Ladle's settings only where they differ from the
// defaults, model paths as written (never resolved to absolute paths, which would leak
// the author's folders into a shared checkpoint). Parsing the result gives the same
// recipe, and normalising twice gives the same bytes.
func (r *Recipe) Normalise() []byte {
	if normaliser != nil {
		return normaliser(r)
	}
	return r.Text()
}

// Text is Normalise without a YAML library: the YAML library's output (block style,
// four-space indents, flow lists and conditions, its quoting of strings) for the
// recipes a form writes, and for any recipe text that parses back to it.
func (r *Recipe) Text() []byte {
	var w textWriter
	w.key(0, "merge_method")
	w.scalar(r.MergeMethod)
	if r.BaseModel != "" {
		w.key(0, "base_model")
		w.scalar(r.BaseModel)
	}
	if len(r.Models) > 0 || len(r.Slices) == 0 {
		w.key(0, "models")
		if len(r.Models) == 0 {
			w.b.WriteString(" []\n")
		} else {
			w.b.WriteByte('\n')
		}
		for _, m := range r.Models {
			w.item(4)
			w.b.WriteString("model:")
			w.scalar(m.Path)
			if len(m.Parameters) > 0 {
				w.key(6, "parameters")
				w.b.WriteByte('\n')
				w.params(8, m.Parameters)
			}
		}
	}
	if len(r.Slices) > 0 {
		w.key(0, "slices")
		w.b.WriteByte('\n')
		for _, sl := range r.Slices {
			w.item(4)
			w.b.WriteString("sources:\n")
			for _, src := range sl.Sources {
				w.item(8)
				w.b.WriteString("model:")
				w.scalar(src.Model)
				w.key(10, "layer_range")
				w.b.WriteString(" [" + strconv.Itoa(src.From) + ", " + strconv.Itoa(src.To) + "]\n")
				if len(src.Parameters) > 0 {
					w.key(10, "parameters")
					w.b.WriteByte('\n')
					w.params(12, src.Parameters)
				}
			}
			if len(sl.Parameters) > 0 {
				w.key(6, "parameters")
				w.b.WriteByte('\n')
				w.params(8, sl.Parameters)
			}
		}
	}
	if len(r.Parameters) > 0 {
		w.key(0, "parameters")
		w.b.WriteByte('\n')
		w.params(4, r.Parameters)
	}
	if r.DType != "" {
		w.key(0, "dtype")
		w.scalar(r.DType)
	}
	if r.OutDType != "" {
		w.key(0, "out_dtype")
		w.scalar(r.OutDType)
	}
	w.ladle(r.Ladle)
	return []byte(w.b.String())
}

type textWriter struct{ b strings.Builder }

func (w *textWriter) pad(n int) { w.b.WriteString(strings.Repeat(" ", n)) }

// key writes "KEY:" at column col (the value follows).
func (w *textWriter) key(col int, k string) {
	w.pad(col)
	w.b.WriteString(quote(k, false) + ":")
}

// item starts a block sequence item with its dash at column col.
func (w *textWriter) item(col int) {
	w.pad(col)
	w.b.WriteString("- ")
}

// scalar writes " VALUE\n" after a key.
func (w *textWriter) scalar(v any) { w.b.WriteString(" " + scalarText(v, false) + "\n") }

func (w *textWriter) params(col int, ps map[string]Setting) {
	names := make([]string, 0, len(ps))
	for k := range ps {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		w.key(col, k)
		s := ps[k]
		if s.Scalar == nil && s.Gradient == nil && s.Strings == nil {
			if len(s.Conds) == 0 {
				w.b.WriteString(" []\n")
				continue
			}
			w.b.WriteByte('\n')
			for _, c := range s.Conds {
				w.item(col + 4)
				w.b.WriteString(condText(c) + "\n")
			}
			continue
		}
		if m, ok := s.Scalar.(map[string]any); ok && len(m) > 0 {
			w.b.WriteByte('\n')
			w.block(col+4, m)
			continue
		}
		w.b.WriteString(" " + flowSetting(s) + "\n")
	}
}

// block writes an object value (rws_extract's quantize) as the library does: a block
// mapping, keys sorted, lists of plain values as block sequences.
func (w *textWriter) block(col int, m map[string]any) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w.key(col, k)
		switch v := m[k].(type) {
		case map[string]any:
			if len(v) > 0 {
				w.b.WriteByte('\n')
				w.block(col+4, v)
				continue
			}
		case []any:
			if len(v) > 0 && !nested(v) {
				w.b.WriteByte('\n')
				for _, e := range v {
					w.item(col + 4)
					w.b.WriteString(scalarText(e, false) + "\n")
				}
				continue
			}
		}
		w.scalar(m[k])
	}
}

func nested(xs []any) bool {
	for _, x := range xs {
		switch x.(type) {
		case map[string]any, []any:
			return true
		}
	}
	return false
}

func (w *textWriter) ladle(o Options) {
	var lines []string
	add := func(k string, v any) { lines = append(lines, "    "+quote(k, false)+": "+scalarText(v, false)) }
	if o.SeedSet {
		add("seed", o.Seed)
	}
	if o.TrimScope != "" && o.TrimScope != DefaultTrimScope {
		add("trim_scope", o.TrimScope)
	}
	if o.RescaleMode != "" && o.RescaleMode != DefaultRescaleMod {
		add("rescale_mode", o.RescaleMode)
	}
	if o.AllowNonFinite {
		add("allow_nonfinite", true)
	}
	if o.Sparse != "" {
		add("sparse", o.Sparse)
	}
	if o.Align {
		add("align", true)
	}
	if o.Eval != nil {
		lines = append(lines, "    eval:")
		if o.Eval.Arch != "" {
			lines = append(lines, "        arch: "+scalarText(o.Eval.Arch, false))
		}
		lines = append(lines, "        data: "+scalarText(o.Eval.Data, false))
		if o.Eval.Split != "" {
			lines = append(lines, "        split: "+scalarText(o.Eval.Split, false))
		}
	}
	if len(lines) > 0 {
		w.b.WriteString("ladle:\n" + strings.Join(lines, "\n") + "\n")
	}
}

// flowSetting writes a scalar, a gradient or a list of strings in flow style.
func flowSetting(s Setting) string {
	switch {
	case s.Scalar != nil:
		return scalarText(s.Scalar, false)
	case s.Gradient != nil:
		parts := make([]string, len(s.Gradient))
		for i, g := range s.Gradient {
			parts[i] = scalarText(g, true)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case s.Strings != nil:
		parts := make([]string, len(s.Strings))
		for i, x := range s.Strings {
			parts[i] = scalarText(x, true)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	parts := make([]string, len(s.Conds))
	for i, c := range s.Conds {
		parts[i] = condText(c)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func condText(c Cond) string {
	out := "{"
	if c.Filter != "" {
		out += "filter: " + scalarText(c.Filter, true) + ", "
	}
	return out + "value: " + flowSetting(c.Value) + "}"
}

// scalarText writes a value as the YAML library does; flow: inside [..] or {..}.
func scalarText(v any, flow bool) string {
	switch x := v.(type) {
	case string:
		return quote(x, flow)
	case bool:
		return strconv.FormatBool(x)
	case float64:
		switch {
		case math.IsInf(x, 1):
			return ".inf"
		case math.IsInf(x, -1):
			return "-.inf"
		case math.IsNaN(x):
			return ".nan"
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = quote(k, true) + ": " + scalarText(x[k], true)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = scalarText(e, true)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case nil:
		return "null"
	}
	return quote(fmt.Sprint(v), flow)
}

var (
	yamlFloat   = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)
	yamlBase60  = regexp.MustCompile(`^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`)
	yamlDate    = regexp.MustCompile(`^[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?`)
	yamlNumeric = regexp.MustCompile(`^[-+]?(0b[01_]+|0o?[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?|\.(inf|Inf|INF|nan|NaN|NAN))$`)
)

// oldWords are the YAML 1.1 booleans and nulls that the library quotes.
var oldWords = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "n": true, "N": true, "no": true, "No": true, "NO": true,
	"on": true, "On": true, "ON": true, "off": true, "Off": true, "OFF": true,
	"true": true, "True": true, "TRUE": true, "false": true, "False": true, "FALSE": true,
	"null": true, "Null": true, "NULL": true, "~": true,
	".inf": true, ".Inf": true, ".INF": true, "+.inf": true, "-.inf": true, ".nan": true, ".NaN": true, ".NAN": true,
}

// quote writes a string as the YAML library does: plain when it reads back as this
// string, else single-quoted, else double-quoted (a string that would read as another
// type, or one holding characters only double quotes can carry).
func quote(s string, flow bool) string {
	if s == "" || oldWords[s] || yamlFloat.MatchString(s) || yamlBase60.MatchString(s) || yamlDate.MatchString(s) || yamlNumeric.MatchString(s) {
		return doubleQuoted(s)
	}
	special := false
	for _, r := range s {
		if r == '\n' || r == '\r' || r == '\t' || !unicode.IsPrint(r) || r == '\uFEFF' {
			special = true
		}
	}
	if special {
		return doubleQuoted(s)
	}
	if plainOK(s, flow) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func plainOK(s string, flow bool) bool {
	if strings.HasPrefix(s, "---") || strings.HasPrefix(s, "...") || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	spaceOrEnd := func(i int) bool { return i >= len(s) || s[i] == ' ' }
	flowInd := func(c byte) bool { return strings.IndexByte(",[]{}", c) >= 0 }
	switch c := s[0]; {
	case strings.IndexByte("#,[]{}&*!|>'\"%@`", c) >= 0:
		return false
	case c == '-' || c == '?' || c == ':':
		if spaceOrEnd(1) || (flow && c != '-' && (flowInd(s[1]))) {
			return false
		}
		if c == '?' && flow {
			return false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if flow && (flowInd(c) || c == '?') && i > 0 {
			return false
		}
		if c == ':' && (spaceOrEnd(i+1) || (flow && i+1 < len(s) && flowInd(s[i+1]))) {
			return false
		}
		if c == '#' && i > 0 && s[i-1] == ' ' {
			return false
		}
	}
	return true
}

func doubleQuoted(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if unicode.IsPrint(r) && r != '\uFEFF' {
				b.WriteRune(r)
			} else if r <= 0xFF {
				b.WriteString(`\x` + strconv.FormatUint(uint64(r)|0x100, 16)[1:])
			} else if r <= 0xFFFF {
				b.WriteString(`\u` + strconv.FormatUint(uint64(r)|0x10000, 16)[1:])
			} else {
				b.WriteString(`\U` + strconv.FormatUint(uint64(r)|0x100000000, 16)[1:])
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
