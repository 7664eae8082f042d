package main

import (
	"encoding/json"
	"strings"
	"testing"

	"ladle/core/merge"
)

func TestMethodsJSONListsTheRegistry(t *testing.T) {
	code, stdout, stderr := runCLI(t, "methods", "--json")
	if code != 0 {
		t.Fatal(stderr)
	}
	var infos []merge.MethodInfo
	if err := json.Unmarshal([]byte(stdout), &infos); err != nil {
		t.Fatal(err)
	}
	if len(infos) != len(merge.Names()) {
		t.Fatalf("%d methods listed, the registry has %d", len(infos), len(merge.Names()))
	}
	for _, want := range []string{"linear", "task_arithmetic", "ties", "dare_ties", "rws_patch", "slerp", "model_stock",
		"pcb", "tsv_merge", "iso_c", "iso_cts", "karcher", "nuslerp", "multislerp", "sce", "passthrough"} {
		found := false
		for _, m := range infos {
			if m.Name == want {
				found = m.Summary != "" && m.Paper != "" && len(m.Params) > 0
			}
		}
		if !found {
			t.Errorf("%s is missing or undocumented", want)
		}
	}
}

func TestMethodsText(t *testing.T) {
	code, stdout, _ := runCLI(t, "methods", "ties")
	if code != 0 || !strings.Contains(stdout, "ties:") || !strings.Contains(stdout, "density") || !strings.Contains(stdout, "arxiv.org") {
		t.Errorf("exit %d:\n%s", code, stdout)
	}
	if _, stdout, _ := runCLI(t, "methods", "greedy_soup"); !strings.Contains(stdout, "held-out data") {
		t.Errorf("greedy_soup does not say it needs an evaluator:\n%s", stdout)
	}
	if code, _, stderr := runCLI(t, "methods", "tie"); code != 1 || !strings.Contains(stderr, "unknown merge method") {
		t.Errorf("unknown method: exit %d, %q", code, stderr)
	}
}

// The text listing names every method with its paper.
func TestMethodsListsNewMethodsWithPapers(t *testing.T) {
	code, stdout, _ := runCLI(t, "methods")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for name, paper := range map[string]string{
		"pcb": "2410.02396", "tsv_merge": "2412.00081", "iso_c": "2502.04959", "iso_cts": "2502.04959",
		"karcher": "Karcher", "nuslerp": "2403.13257", "multislerp": "Buss", "sce": "2408.07990", "passthrough": "2403.13257",
	} {
		_, one, _ := runCLI(t, "methods", name)
		if !strings.Contains(stdout, name) || !strings.Contains(one, paper) {
			t.Errorf("%s: not listed with its paper (%s):\n%s", name, paper, one)
		}
	}
}
