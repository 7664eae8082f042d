package ckpt

import "testing"

func TestDisplayName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"model.layers.0.weight", "model.layers.0.weight"},
		{"poids.é", "poids.é"},
		{"a b", "a b"},
		{"", `""`},
		{"a\x1b[31m", `"a\x1b[31m"`},
		{"a\nb", `"a\nb"`},
		{"x\u202ey", `"x\u202ey"`},
		{"nb\u00a0sp", `"nb\u00a0sp"`},
		{"bad\xff", `"bad\xff"`},
	} {
		if got := DisplayName(c.in); got != c.want {
			t.Errorf("DisplayName(%q) = %s, want %s", c.in, got, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"line one\nline\ttwo é", "line one\nline\ttwo é"},
		{"a\x1b[2K\rb\u202e\xff", `a\x1b[2K\rb\u202e\xff`},
	} {
		if got := EscapeControls(c.in); got != c.want {
			t.Errorf("EscapeControls(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}
