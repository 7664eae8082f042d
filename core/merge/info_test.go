package merge

import (
	"bytes"
	"encoding/json"
	"testing"

	"ladle/core/merge/info"
)

// The page reads the registry from info's registry.json: it must be this registry.
func TestRegistryJSONIsTheRegistry(t *testing.T) {
	want, err := DescribeJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(info.RegistryJSON(), want) {
		t.Fatal("core/merge/info/registry.json is not the registry's description: run `go generate ./core/merge/info`")
	}
	ms, err := info.Registry()
	if err != nil {
		t.Fatal(err)
	}
	again, err := json.MarshalIndent(ms, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(again, '\n'), want) {
		t.Error("registry.json does not read back to the registry's description")
	}
	for i, m := range Describe() {
		for j, p := range m.Params {
			if d, ok := p.Default.([]string); ok {
				if got, ok := ms[i].Params[j].Default.([]string); !ok || len(got) != len(d) {
					t.Errorf("%s.%s: default %#v reads back as %#v", m.Name, p.Name, d, ms[i].Params[j].Default)
				}
			}
		}
	}
}
