package engine

import (
	"encoding/json"

	"ladle/core/plan"
	"ladle/core/recipe"
)

// CheckRecipe is a check request's answer: the recipe parsed (JSON, "" when it does
// not parse) and the command's own check of it (the parser's error, or plan.Check's:
// the method, its base and model count, every parameter and value, the ladle options
// and dtypes), in its words; "" when the recipe passes. The page asks it as a recipe
// is typed, so that its program links neither the YAML parser nor the planner.
func CheckRecipe(text string) (parsed, msg string) {
	r, err := recipe.Parse([]byte(text), "recipe", "")
	if err != nil {
		return "", err.Error()
	}
	data, err := json.Marshal(r)
	if err != nil { // only non-finite numbers fail, which the parser refuses
		return "", "the recipe could not be passed to the page: " + err.Error()
	}
	if err := plan.Check(r); err != nil {
		return string(data), err.Error()
	}
	return string(data), ""
}
