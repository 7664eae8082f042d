package ckpt

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// whatIsIt describes a file whose first bytes match no checkpoint format: what it
// holds instead (nothing, text, a web page, a Git LFS pointer) and what to do, or ""
// when it is binary data of an unknown kind.
func whatIsIt(head []byte, size int64) string {
	switch {
	case size == 0:
		return "the file is empty (0 bytes): it was not saved completely, or a download or copy failed; get the checkpoint again"
	case bytes.HasPrefix(head, []byte("version https://git-lfs")):
		return "this is a Git LFS pointer (a small text file that stands for the real checkpoint), not the checkpoint: run `git lfs pull` in the repository, or download the file itself"
	case !isText(head):
		return ""
	}
	s := strings.ToLower(strings.TrimSpace(string(head)))
	if strings.HasPrefix(s, "<!doctype html") || strings.HasPrefix(s, "<html") {
		return "this is a web page (HTML), not a checkpoint: a download saved the page instead of the file; download the file itself (on hubs, the \"download\" or \"raw\" link)"
	}
	return fmt.Sprintf("the file holds text (it starts %q), not a checkpoint: checkpoints are binary (.safetensors, .pt/.pth/.bin from torch.save, .gguf, .npz); is this a README, a config or a log, renamed?", firstLine(head))
}

// isText reports whether head is UTF-8 text without control characters other than
// whitespace (a cut at the end of head may split a character).
func isText(head []byte) bool {
	for i := 0; i < len(head); {
		r, n := utf8.DecodeRune(head[i:])
		if r == utf8.RuneError && n <= 1 {
			return len(head)-i < utf8.UTFMax && i > 0 // a character cut by the sniff limit
		}
		if r < ' ' && r != '\n' && r != '\r' && r != '\t' || r == 0x7f {
			return false
		}
		i += n
	}
	return len(head) > 0
}

// firstLine is the start of the first line of text, at most 40 characters.
func firstLine(head []byte) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(head)), "\n")
	line = strings.TrimSpace(line)
	if r := []rune(line); len(r) > 40 {
		line = string(r[:40]) + "…"
	}
	return line
}
