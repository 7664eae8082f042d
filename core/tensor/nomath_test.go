package tensor

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// mathTranscendentals are package math's functions whose bits differ between
// targets: assembly on some (Exp, Log …), pure Go compiled with fused multiply-adds
// on others (all of them on arm64 and amd64 v3). Sqrt, Abs, Floor, Ldexp, Frexp and
// the like are exact or correctly rounded everywhere and may be used freely.
var mathTranscendentals = map[string]bool{
	"Exp": true, "Exp2": true, "Expm1": true, "Log": true, "Log1p": true, "Log2": true, "Log10": true,
	"Pow": true, "Pow10": true, "Cbrt": true, "Hypot": true,
	"Sin": true, "Cos": true, "Tan": true, "Sincos": true, "Asin": true, "Acos": true, "Atan": true, "Atan2": true,
	"Sinh": true, "Cosh": true, "Tanh": true, "Asinh": true, "Acosh": true, "Atanh": true,
	"Erf": true, "Erfc": true, "Erfinv": true, "Erfcinv": true, "Gamma": true, "Lgamma": true,
	"J0": true, "J1": true, "Jn": true, "Y0": true, "Y1": true, "Yn": true,
}

// mathAllowed names, by the function that holds it (package path below ladle/core,
// then the function or Type.method), each use of a package-math transcendental in
// ladle/core/... whose result is not promised the same on every target, with the
// reason.
var mathAllowed = map[string]string{
	"nn.expLog":       "fast mode's exp and log (exact mode takes pexp and plog)",
	"nn.erfOf":        "fast mode's erf (exact mode takes tensor.Erf)",
	"nn.tanhOf":       "fast mode's tanh (exact mode takes tensor.Tanh)",
	"nn.NLL":          "the fast-mode loss (Model.NLL computes exact mode's with pexp and plog)",
	"nn.CrossEntropy": "the training loss, for Fisher and training with fast-mode products",
}

// TestNoMathTranscendentals keeps package math's transcendentals off every path of
// ladle/core/... that promises the same bits on every target (merges, exact mode,
// the labs, LoRA, recipes): they must use package tensor's portable functions (Exp,
// Sin, Cos, Acos, Erf, Tanh) or their own. TestNoFusedMultiplyAdd cannot see inside
// the standard library; this test finds every reference (call or function value) to
// one of mathTranscendentals outside mathAllowed, by parsing the sources. Package
// compute (the GPU's tolerance references) is not a promised path.
func TestNoMathTranscendentals(t *testing.T) {
	used := map[string]bool{}
	var bad []string
	fset := token.NewFileSet()
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == "compute" || name == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		mathName := ""
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "math" {
				mathName = "math"
				if imp.Name != nil {
					mathName = imp.Name.Name
				}
			}
		}
		if mathName == "" {
			return nil
		}
		pkg := filepath.ToSlash(filepath.Dir(path))
		pkg = strings.TrimPrefix(pkg, "../")
		if pkg == ".." {
			pkg = "tensor"
		}
		for _, decl := range f.Decls {
			owner := pkg + ".(package-level)"
			if fn, ok := decl.(*ast.FuncDecl); ok {
				owner = pkg + "." + fn.Name.Name
				if fn.Recv != nil && len(fn.Recv.List) == 1 {
					typ := fn.Recv.List[0].Type
					if star, ok := typ.(*ast.StarExpr); ok {
						typ = star.X
					}
					if id, ok := typ.(*ast.Ident); ok {
						owner = pkg + "." + id.Name + "." + fn.Name.Name
					}
				}
			}
			ast.Inspect(decl, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == mathName && mathTranscendentals[sel.Sel.Name] {
					if _, ok := mathAllowed[owner]; ok {
						used[owner] = true
					} else {
						bad = append(bad, fset.Position(sel.Pos()).String()+": math."+sel.Sel.Name+" in "+owner)
					}
				}
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Errorf("%s: use package tensor's portable function (or add a portable one there)", b)
	}
	for owner := range mathAllowed {
		if !used[owner] {
			t.Errorf("mathAllowed names %s, which no longer uses package math's transcendentals: remove it", owner)
		}
	}
}
