package engine

import (
	"ladle/core/plan"
	"ladle/core/recipe"
)

// CheckRecipe is a check request's answer: the command's own recipe check (the
// recipe parses, then plan.Check: the method, its base and model count, every
// parameter and value, the ladle options and dtypes), in its words; "" when the
// recipe passes. The page asks it as a recipe is typed, so that its program need not
// link the planner, and shows the answer as the editor's error.
func CheckRecipe(text string) string {
	r, err := recipe.Parse([]byte(text), "recipe", "")
	if err != nil {
		return err.Error()
	}
	if err := plan.Check(r); err != nil {
		return err.Error()
	}
	return ""
}
