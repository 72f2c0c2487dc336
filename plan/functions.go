package plan

import (
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/cutover/cutover/internal/envfile"
	"github.com/cutover/cutover/internal/hcldecode"
)

// functions returns the functions a plan may call: go-cty's stdlib (the same
// names Terraform uses) plus env(), file(), filebase64(), timestamp(),
// sensitive() and nonsensitive().
//
// file() and filebase64() results are sensitive (key files are the common
// case; nonsensitive() unmarks a public file), and so is env() of a variable
// whose name looks secret (PASSWORD, SECRET, TOKEN, ..._KEY).
func functions(baseDir string, environ map[string]string, now func() time.Time) map[string]function.Function {
	fns := map[string]function.Function{
		"abs": stdlib.AbsoluteFunc, "ceil": stdlib.CeilFunc, "floor": stdlib.FloorFunc,
		"max": stdlib.MaxFunc, "min": stdlib.MinFunc, "parseint": stdlib.ParseIntFunc,
		"chomp": stdlib.ChompFunc, "format": stdlib.FormatFunc, "formatlist": stdlib.FormatListFunc,
		"indent": stdlib.IndentFunc, "join": stdlib.JoinFunc, "lower": stdlib.LowerFunc,
		"upper": stdlib.UpperFunc, "replace": stdlib.ReplaceFunc, "regex": stdlib.RegexFunc,
		"regexall": stdlib.RegexAllFunc, "split": stdlib.SplitFunc, "strrev": stdlib.ReverseFunc,
		"substr": stdlib.SubstrFunc, "title": stdlib.TitleFunc, "trim": stdlib.TrimFunc,
		"trimprefix": stdlib.TrimPrefixFunc, "trimsuffix": stdlib.TrimSuffixFunc,
		"trimspace": stdlib.TrimSpaceFunc, "chunklist": stdlib.ChunklistFunc,
		"coalesce": coalesceFunc, "coalescelist": stdlib.CoalesceListFunc,
		"compact": stdlib.CompactFunc, "concat": stdlib.ConcatFunc, "contains": stdlib.ContainsFunc,
		"distinct": stdlib.DistinctFunc, "element": stdlib.ElementFunc, "flatten": stdlib.FlattenFunc,
		"keys": stdlib.KeysFunc, "length": stdlib.LengthFunc, "lookup": stdlib.LookupFunc,
		"merge": stdlib.MergeFunc, "range": stdlib.RangeFunc, "reverse": stdlib.ReverseListFunc,
		"setunion": stdlib.SetUnionFunc, "slice": stdlib.SliceFunc, "sort": stdlib.SortFunc,
		"values": stdlib.ValuesFunc, "zipmap": stdlib.ZipmapFunc,
		"jsonencode": stdlib.JSONEncodeFunc, "jsondecode": stdlib.JSONDecodeFunc,
		"csvdecode": stdlib.CSVDecodeFunc, "formatdate": stdlib.FormatDateFunc,
		"timeadd": stdlib.TimeAddFunc, "tostring": stdlib.MakeToFunc(cty.String),
		"tonumber": stdlib.MakeToFunc(cty.Number), "tobool": stdlib.MakeToFunc(cty.Bool),
		"tolist": stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"tomap":  stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"try":    tryfunc.TryFunc, "can": tryfunc.CanFunc,
	}
	fns["env"] = envFunc(environ)
	fns["file"] = fileFunc(baseDir, false)
	fns["filebase64"] = fileFunc(baseDir, true)
	fns["timestamp"] = timestampFunc(now)
	fns["sensitive"] = sensitiveFunc
	fns["nonsensitive"] = nonsensitiveFunc
	return fns
}

func envFunc(environ map[string]string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable of the cutover process; fails when it is not set.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		RefineResult: func(b *cty.RefinementBuilder) *cty.RefinementBuilder {
			return b.NotNull()
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			name := args[0].AsString()
			v, ok := environ[name]
			if !ok {
				return cty.UnknownVal(cty.String), fmt.Errorf("environment variable %s is not set", name)
			}
			out := cty.StringVal(v)
			if envfile.LooksSecret(name) {
				out = out.Mark(hcldecode.SensitiveMark)
			}
			return out, nil
		},
	})
}

func fileFunc(baseDir string, asBase64 bool) function.Function {
	return function.New(&function.Spec{
		Description: "Reads a file, relative to the plan's directory; the result is sensitive.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			if !filepath.IsAbs(p) {
				p = filepath.Join(baseDir, p)
			}
			data, err := readCapped(p)
			if err != nil {
				return cty.UnknownVal(cty.String), fmt.Errorf("read %s: %w", p, unwrapPathErr(err))
			}
			s := string(data)
			if asBase64 {
				s = base64.StdEncoding.EncodeToString(data)
			}
			return cty.StringVal(s).Mark(hcldecode.SensitiveMark), nil
		},
	})
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func timestampFunc(now func() time.Time) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the current time in RFC 3339 format, UTC.",
		Type:        function.StaticReturnType(cty.String),
		Impl: func([]cty.Value, cty.Type) (cty.Value, error) {
			return cty.StringVal(now().UTC().Format(time.RFC3339)), nil
		},
	})
}

var sensitiveFunc = function.New(&function.Spec{
	Description: "Marks a value sensitive: it is masked in every output.",
	Params:      []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowMarked: true, AllowUnknown: true, AllowNull: true}},
	Type: func(args []cty.Value) (cty.Type, error) {
		return args[0].Type(), nil
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return args[0].Mark(hcldecode.SensitiveMark), nil
	},
})

var nonsensitiveFunc = function.New(&function.Spec{
	Description: "Removes the sensitive mark from a value the author knows is public.",
	Params:      []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowMarked: true, AllowUnknown: true, AllowNull: true}},
	Type: func(args []cty.Value) (cty.Type, error) {
		return args[0].Type(), nil
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v, _ := args[0].UnmarkDeep()
		return v, nil
	},
})

// maxFileSize bounds what file() reads: plans read keys and certificates,
// never large files.
const maxFileSize = 4 << 20

func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxFileSize)
	}
	return data, nil
}

// coalesceFunc is Terraform's coalesce: the first argument that is neither
// null nor an empty string (go-cty's skips only nulls).
var coalesceFunc = function.New(&function.Spec{
	Description: "Returns the first argument that is not null and not an empty string.",
	VarParam:    &function.Parameter{Name: "vals", Type: cty.DynamicPseudoType, AllowNull: true, AllowMarked: true},
	Type: func(args []cty.Value) (cty.Type, error) {
		types := make([]cty.Type, len(args))
		for i, a := range args {
			types[i] = a.Type()
		}
		ty, _ := convert.UnifyUnsafe(types)
		if ty == cty.NilType {
			return cty.NilType, fmt.Errorf("all arguments must have the same type")
		}
		return ty, nil
	},
	Impl: func(args []cty.Value, ty cty.Type) (cty.Value, error) {
		for _, a := range args {
			v, marks := a.Unmark()
			if v.IsNull() || (v.Type() == cty.String && v.IsKnown() && v.AsString() == "") {
				continue
			}
			conv, err := convert.Convert(v, ty)
			if err != nil {
				return cty.NilVal, err
			}
			return conv.WithMarks(marks), nil
		}
		return cty.NilVal, fmt.Errorf("no non-null, non-empty argument")
	},
})
