package main

import (
	"bytes"
	"strings"
	"testing"
)

// runCLI runs one command line in-process and returns its exit status and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsageMistakesExitTwo(t *testing.T) {
	cases := [][]string{
		{},
		{"inspct"},
		{"inspect"},
		{"inspect", "--bogus", "x"},
		{"convert", "in.pt"},
		{"convert", "a", "b", "-o", "c"},
		{"convert", "in.pt", "-o", "out.safetensors", "--dtype", "I32"},
		{"convert", "in.pt", "-o", "out.safetensors", "--dtype", "F128"},
	}
	for _, args := range cases {
		code, _, stderr := runCLI(t, args...)
		if code != 2 {
			t.Errorf("ladle %v: exit %d, want 2 (stderr %q)", args, code, stderr)
		}
	}
	if _, _, stderr := runCLI(t, "inspct"); !strings.Contains(stderr, `did you mean "inspect"`) {
		t.Errorf("no suggestion for a misspelt command: %q", stderr)
	}
}

func TestHelp(t *testing.T) {
	code, stdout, _ := runCLI(t, "help")
	if code != 0 || !strings.Contains(stdout, "inspect") || !strings.Contains(stdout, "convert") {
		t.Errorf("help: exit %d, %q", code, stdout)
	}
	code, stdout, _ = runCLI(t, "help", "convert")
	if code != 0 || !strings.Contains(stdout, "--dtype") {
		t.Errorf("help convert: exit %d, %q", code, stdout)
	}
}

func TestFlagsAnywhere(t *testing.T) {
	for _, args := range [][]string{{"--json", "a", "b"}, {"a", "--json", "b"}, {"a", "b", "--json"}} {
		fs := newTestFlagSet()
		pos, err := parseFlags(fs.set, args)
		if err != nil || strings.Join(pos, ",") != "a,b" || !*fs.json {
			t.Errorf("%v: positional %v, json %v, err %v", args, pos, *fs.json, err)
		}
	}
}

// -h and --help after a command print its usage and its flags with their defaults (on
// stdout, exit 0), and `ladle help COMMAND` prints the same; a bare -h used to print
// nothing at all.
func TestCommandHelpListsFlags(t *testing.T) {
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"merge", "-h"}, []string{"usage: ladle merge", "-shard-size", "-threads", "-seed"}},
		{[]string{"merge", "--help"}, []string{"usage: ladle merge", "-shard-size"}},
		{[]string{"help", "merge"}, []string{"usage: ladle merge", "-shard-size", "-threads"}},
		{[]string{"eval", "-h"}, []string{"usage: ladle eval", "-split", "-arch"}},
		{[]string{"serve", "-h"}, []string{"usage: ladle serve", "-addr", "127.0.0.1:8080", "-dist string"}},
		{[]string{"help", "analyze"}, []string{"usage: ladle analyze", "-density"}},
		{[]string{"lora", "-h"}, []string{"usage: ladle lora", "-rank"}},
		{[]string{"data", "import-csv", "-h"}, []string{"usage: ladle data", "-label-column"}},
		{[]string{"labs", "-h"}, []string{"usage: ladle labs"}},
	}
	for _, c := range cases {
		code, stdout, stderr := runCLI(t, c.args...)
		if code != 0 {
			t.Errorf("ladle %v: exit %d (stderr %q)", c.args, code, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("ladle %v: stdout %q lacks %q", c.args, stdout, w)
			}
		}
	}
}

// Messages read as sentences, not as a program's trace: a missing recipe is named as
// such (it was "stat nope.yaml: no such file or directory"), and one model is "1 model".
func TestMessagesReadWell(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runCLI(t, "merge", dir+"/nope.yaml", "-o", dir+"/out.safetensors")
	if code != 1 || !strings.Contains(stderr, "nope.yaml: no such file or folder") || strings.Contains(stderr, "stat ") {
		t.Errorf("missing recipe: exit %d, %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "eval", dir+"/model.safetensors", "--arch", dir+"/nope.json", "--data", dir+"/d.safetensors")
	if code == 0 || strings.Contains(stderr, "stat ") {
		t.Errorf("missing files for eval: exit %d, %q", code, stderr)
	}
}
