package recipe

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxLineSearch and maxBytesSearch bound the recipes whose syntax errors are located
// line by line (each line costs a parse of the text before it).
const (
	maxLineSearch  = 400
	maxBytesSearch = 32 << 10
)

var yamlLine = regexp.MustCompile(`^line (\d+): `)

// syntaxError words a YAML syntax error, naming the line the mistake is on. The YAML
// parser names the line where the enclosing block began (an indentation mistake on
// line 5 of a list that starts on line 2 is reported on line 2); the first line at
// which the document, cut there, fails with the same complaint is the one at fault.
func syntaxError(data []byte, err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	reported, _ := strconv.Atoi(m[1])
	what := msg[len(m[0]):]
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > maxLineSearch || len(data) > maxBytesSearch {
		return msg
	}
	end := 0
	for n, l := range lines {
		end += len(l)
		if n+1 < reported || len(l) == 0 { // the reported line is a candidate too (tabs are reported where they are); "" follows the last newline
			continue
		}
		var doc yaml.Node
		perr := yaml.Unmarshal(data[:end], &doc)
		if perr == nil {
			continue
		}
		if pm := yamlLine.FindStringSubmatch(strings.TrimPrefix(perr.Error(), "yaml: ")); pm != nil && strings.HasSuffix(perr.Error(), what) {
			return "line " + strconv.Itoa(n+1) + ": " + what + hint(what, l)
		}
		break
	}
	return msg + hint(what, nil)
}

// hint says what to do about the YAML parser's usual complaints; line is the line at
// fault, when known.
func hint(what string, line []byte) string {
	switch {
	case strings.Contains(what, "tab character"),
		strings.Contains(what, "found character that cannot start any token") && bytes.ContainsRune(line, '\t'):
		return " (YAML indents with spaces, not tabs)"
	case strings.Contains(what, "did not find expected '-' indicator"), strings.Contains(what, "did not find expected key"),
		strings.Contains(what, "mapping values are not allowed"):
		return " (check this line's indentation: items of one list, and keys of one mapping, start in the same column)"
	}
	return ""
}
