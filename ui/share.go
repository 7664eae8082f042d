package ui

// Share is the share button: it makes a workshop link to the open lab and the
// editor's recipe (state.ShareURL), copies it to the clipboard and shows it as text
// for copying by hand where the browser denies the clipboard.
type Share struct{ P *Page }

// noLab is set when a link was made with no lab open: its recipe names files that
// only the person who made it has.
func (c *Share) noLab() bool { return c.P.App.Share.URL != "" && c.P.App.Labs.Open == "" }
