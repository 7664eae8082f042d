package merge

// Check reports whether v is an acceptable value for p: its type, range and choices.
// where names the recipe key in the message (for example "models[1].parameters.density").
// The recipe layer calls it for every value a setting can take, before any tensor is read.
func (p *Param) Check(v any, where string) error { return checkValue(p, v, where) }
