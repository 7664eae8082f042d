package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"

	"ladle/core/ckpt"
	"ladle/core/plan"
	"ladle/core/recipe"
)

// errNoSuchFile is a checkpoint name no given file has; it is an fs.ErrNotExist, so
// that package lora tries an adapter's .bin after its .safetensors.
var errNoSuchFile = fmt.Errorf("no such file (%w)", fs.ErrNotExist)

// requestError is a mistake in a request itself (not in the recipe or the files).
type requestError struct {
	where string
	msg   string
}

func (e *requestError) Error() string { return e.where + ": " + e.msg }

// missingFileError is a model name that no given file has.
type missingFileError struct {
	name string
	have []string
}

func (e *missingFileError) Error() string {
	have := "no files were given"
	if len(e.have) > 0 {
		have = "the files given are " + strings.Join(e.have, ", ")
	}
	return fmt.Sprintf("no file named %q: a recipe names models by the names of the dropped files (%s)", e.name, have)
}

var (
	// plan.Error's Where for a model: "models[1] b.pt" or "base_model base.pt".
	whereModel = regexp.MustCompile(`^(?:models\[\d+\]|base_model) (.+)$`)
	// the tensor an error message names: tensor "fc1.weight": ...
	tensorInMsg = regexp.MustCompile(`tensor ("(?:[^"\\]|\\.)*")`)
)

// Describe turns an error into the structured form the page shows: the message, and
// the file, the tensor and the recipe key at fault when the error says.
func Describe(err error) ErrorInfo {
	info := ErrorInfo{Message: err.Error()}
	var (
		fe  *ckpt.FormatError
		ue  *ckpt.UnsupportedError
		nf  *ckpt.NotFoundError
		uf  *ckpt.UnknownFormatError
		pe  *plan.Error
		re  *recipe.Error
		rq  *requestError
		mf  *missingFileError
		prt *partError
	)
	switch {
	case errors.As(err, &fe):
		info.File, info.Tensor = fe.File, fe.Tensor
	case errors.As(err, &ue):
		info.File, info.Tensor = ue.File, ue.Tensor
	case errors.As(err, &nf):
		info.File, info.Tensor = nf.File, nf.Tensor
	case errors.As(err, &uf):
		info.File = uf.File
	}
	switch {
	case errors.As(err, &pe):
		info.Where = pe.Where
		if m := whereModel.FindStringSubmatch(pe.Where); m != nil && info.File == "" {
			info.File = m[1]
		}
	case errors.As(err, &re):
		info.Where = re.Path
		if info.Where == "" {
			info.Where = "recipe"
		}
	case errors.As(err, &rq):
		info.Where = rq.where
	case errors.As(err, &mf):
		info.File = mf.name
	case errors.As(err, &prt):
		info.Where = "part"
	}
	if info.Tensor == "" {
		if m := tensorInMsg.FindStringSubmatch(info.Message); m != nil {
			if name, err := strconv.Unquote(m[1]); err == nil {
				info.Tensor = name
			}
		}
	}
	return info
}
