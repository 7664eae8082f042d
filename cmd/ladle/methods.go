package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"strings"

	"ladle/core/merge"
)

func init() {
	register(&command{
		name:    "methods",
		args:    "[--json] [NAME]",
		summary: "list the merge methods with their parameters, defaults and papers",
		run:     runMethods,
	})
}

func runMethods(ctx *cmdContext, args []string) error {
	fs := flag.NewFlagSet("methods", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the registry as JSON")
	names, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	infos := merge.Describe()
	if len(names) > 0 {
		var picked []merge.MethodInfo
		for _, n := range names {
			m, err := merge.Get(n)
			if err != nil {
				return err
			}
			picked = append(picked, m.Info())
		}
		infos = picked
	}
	if *asJSON {
		enc := json.NewEncoder(ctx.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(infos)
	}
	for i, m := range infos {
		if i > 0 {
			fmt.Fprintln(ctx.stdout)
		}
		needs := fmt.Sprintf("%d+ models", m.MinModels)
		if m.MaxModels > 0 {
			needs = fmt.Sprintf("%d-%d models", m.MinModels, m.MaxModels)
			if m.MinModels == m.MaxModels {
				needs = fmt.Sprintf("%d model(s)", m.MinModels)
			}
		}
		if m.NeedsBase {
			needs += " and a base_model"
		} else if m.OptionalBase {
			needs += ", and optionally a base_model"
		}
		if m.NeedsEval {
			needs += ", and held-out data to evaluate on (ladle: {eval: {arch, data, split}})"
		}
		if len(m.Roles) > 0 {
			needs += " (" + strings.Join(m.Roles, ", ") + ")"
		}
		fmt.Fprintf(ctx.stdout, "%s: %s\n  needs %s\n  paper: %s\n", m.Name, m.Summary, needs, m.Paper)
		for _, p := range m.Params {
			where := "parameters"
			switch {
			case p.Ladle:
				where = "ladle"
			case p.PerModel:
				where = "per model"
			}
			def := "required"
			if !p.Required {
				def = fmt.Sprintf("default %v", p.Default)
				if p.Default == nil {
					def = "optional"
				}
			}
			rng := ""
			if p.Min != nil || p.Max != nil {
				lo, hi := "-inf", "inf"
				if p.Min != nil {
					lo = fmt.Sprint(*p.Min)
				}
				if p.Max != nil {
					hi = fmt.Sprint(*p.Max)
				}
				rng = fmt.Sprintf(", in [%s, %s]", lo, hi)
			}
			if len(p.Choices) > 0 {
				rng = ", one of " + strings.Join(p.Choices, "|")
			}
			fmt.Fprintf(ctx.stdout, "  - %s (%s, %s, %s%s): %s\n", p.Name, p.Type, where, def, rng, p.Doc)
		}
	}
	return nil
}
