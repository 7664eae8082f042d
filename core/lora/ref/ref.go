// Package ref names what a PEFT LoRA adapter folder holds and how a recipe refers to a
// base with an adapter applied (BASE+DIR, mergekit's syntax), without package lora's
// reading and arithmetic, for programs that only name adapters (the playground page).
// Package lora uses these names.
package ref

import "strings"

// The files of a PEFT adapter folder.
const (
	ConfigFile       = "adapter_config.json"
	WeightsFile      = "adapter_model.safetensors"
	WeightsFileTorch = "adapter_model.bin"
)

// Split splits a model reference BASE+DIR (mergekit's syntax) at its last '+'. ok is
// false when ref holds no '+' or either side is empty.
func Split(ref string) (base, dir string, ok bool) {
	i := strings.LastIndexByte(ref, '+')
	if i <= 0 || i == len(ref)-1 {
		return ref, "", false
	}
	return ref[:i], ref[i+1:], true
}
