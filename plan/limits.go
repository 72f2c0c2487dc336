package plan

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Input limits. A plan is a runbook of a few kilobytes (1,000 steps take about
// 100 KiB); the limits keep a wrong file (a log, a binary, a generated attack)
// from exhausting memory or overflowing the stack of hcl's recursive parser,
// which today crashes on 100,000 nested parentheses.
const (
	// DefaultMaxFileBytes is the largest plan or variables file Load reads,
	// and the largest file file() and filebase64() read.
	DefaultMaxFileBytes = 1 << 20
	// DefaultMaxDepth is the deepest nesting of an expression Load parses:
	// brackets, braces, parentheses, quoted strings and template
	// interpolations or directives, plus runs of the operators hcl's parser
	// recurses on (unary ! and -, conditionals ?, splats *).
	DefaultMaxDepth = 256
	// EnvMaxFileBytes raises (or lowers) DefaultMaxFileBytes: a byte count.
	EnvMaxFileBytes = "CUTOVER_MAX_PLAN_BYTES"
	// EnvMaxDepth raises (or lowers) DefaultMaxDepth.
	EnvMaxDepth = "CUTOVER_MAX_NESTING"
)

// limits are the bounds one Load applies.
type limits struct {
	fileBytes int64
	depth     int
}

// loadLimits reads the limits from the environment (unset or empty: the
// default), with diagnostics for values that are not positive integers.
func loadLimits(env map[string]string) (limits, hcl.Diagnostics) {
	lim := limits{fileBytes: DefaultMaxFileBytes, depth: DefaultMaxDepth}
	var diags hcl.Diagnostics
	if s := env[EnvMaxFileBytes]; s != "" {
		n, d := positiveEnv(EnvMaxFileBytes, s, "8388608 for 8 MiB")
		diags = append(diags, d...)
		if n > 0 {
			lim.fileBytes = n
		}
	}
	if s := env[EnvMaxDepth]; s != "" {
		n, d := positiveEnv(EnvMaxDepth, s, "1024")
		diags = append(diags, d...)
		if n > 0 && n <= 1<<20 {
			lim.depth = int(n)
		}
	}
	return lim, diags
}

func positiveEnv(name, s, example string) (int64, hcl.Diagnostics) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid " + name,
			Detail: fmt.Sprintf("The environment variable %s is %q; it must be a positive whole number, e.g. %s.", name, s, example)}}
	}
	return n, nil
}

// readBounded reads at most lim.fileBytes of path. A longer file is an error
// whose subject is the position where the limit is passed.
func readBounded(path, what string, max int64) ([]byte, hcl.Diagnostics) {
	f, err := os.Open(path)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read " + what,
			Detail: fmt.Sprintf("Reading %s: %s.", path, unwrapPathErr(err))}}
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read " + what,
			Detail: fmt.Sprintf("Reading %s: %s.", path, unwrapPathErr(err))}}
	}
	if int64(len(src)) <= max {
		return src, nil
	}
	pos := posAt(src, int(max))
	return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: strings.ToUpper(what[:1]) + what[1:] + " too large",
		Detail: fmt.Sprintf("%s is larger than the limit of %d bytes; it was not read past this point. "+
			"A plan is a few kilobytes: check that this is the right file, or raise the limit with %s=BYTES.", path, max, EnvMaxFileBytes),
		Subject: &hcl.Range{Filename: path, Start: pos, End: pos}}}
}

// posAt is the line and column (in characters) of byte offset off of src.
func posAt(src []byte, off int) hcl.Pos {
	head := src[:off]
	line := bytes.Count(head, []byte("\n")) + 1
	lineStart := bytes.LastIndexByte(head, '\n') + 1
	return hcl.Pos{Line: line, Column: utf8.RuneCount(head[lineStart:]) + 1, Byte: off}
}

// checkNesting reports, before hcl parses src, the first place where an
// expression nests deeper than max. hcl's parser recurses once per level, so
// a deep enough nesting overflows the Go stack, which no recover catches.
// The scan works on hcl's own token stream (native syntax) or on the JSON
// structure and each JSON string's template tokens.
func checkNesting(src []byte, filename string, max int) hcl.Diagnostics {
	var r *hcl.Range
	if strings.HasSuffix(filename, ".json") {
		r = jsonNesting(src, filename, max)
	} else {
		tokens, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
		r = tokenNesting(tokens, max, 0)
	}
	if r == nil {
		return nil
	}
	return hcl.Diagnostics{nestingDiag(*r, max)}
}

// nestedSummary is the summary of the nesting diagnostic.
const nestedSummary = "Expression nested too deeply"

func nestingDiag(r hcl.Range, max int) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: nestedSummary,
		Detail: fmt.Sprintf("Here the nesting passes the limit of %d levels (brackets, braces, parentheses, strings, "+
			"template interpolations, and chains of !, -, ? and splat operators); nothing after this point was parsed. "+
			"Flatten the expression with locals, or raise the limit with %s=N.", max, EnvMaxDepth),
		Subject: r.Ptr()}
}

// nestScan counts nesting over a token stream. Frames are the open brackets;
// each frame also counts the recursing operators (chain) of the expression
// being written at its level, reset where a new expression starts.
type nestScan struct {
	frames []nestFrame
	depth  int // len(frames) + every frame's chain
}

type nestFrame struct {
	closer hclsyntax.TokenType
	chain  int
	// lines is true where a newline ends an expression (a body or an
	// object), false inside parentheses, brackets and templates.
	lines bool
}

func (s *nestScan) push(closer hclsyntax.TokenType, lines bool) {
	s.frames = append(s.frames, nestFrame{closer: closer, lines: lines})
	s.depth++
}

// pop closes the innermost frame closed by t (skipping mismatched ones, as
// the parser's recovery would).
func (s *nestScan) pop(t hclsyntax.TokenType) {
	for i := len(s.frames) - 1; i >= 0; i-- {
		if s.frames[i].closer == t {
			for _, f := range s.frames[i:] {
				s.depth -= 1 + f.chain
			}
			s.frames = s.frames[:i]
			return
		}
	}
}

func (s *nestScan) top() *nestFrame {
	if len(s.frames) == 0 {
		return nil
	}
	return &s.frames[len(s.frames)-1]
}

// chain counts one recursing operator in the current expression of the
// frame up levels above the innermost.
func (s *nestScan) chain(up int) {
	if i := len(s.frames) - 1 - up; i >= 0 {
		s.frames[i].chain++
		s.depth++
	}
}

// reset starts a new expression at the current level.
func (s *nestScan) reset() {
	if f := s.top(); f != nil {
		s.depth -= f.chain
		f.chain = 0
	}
}

// tokenNesting returns the range of the first token at which the depth
// (starting from base) passes max, or nil.
func tokenNesting(tokens hclsyntax.Tokens, max, base int) *hcl.Range {
	s := &nestScan{depth: base}
	s.push(hclsyntax.TokenEOF, true) // the file's body
	for i, tok := range tokens {
		switch tok.Type {
		case hclsyntax.TokenOBrace:
			s.push(hclsyntax.TokenCBrace, true)
		case hclsyntax.TokenOBrack:
			s.push(hclsyntax.TokenCBrack, false)
		case hclsyntax.TokenOParen:
			s.push(hclsyntax.TokenCParen, false)
		case hclsyntax.TokenOQuote:
			s.push(hclsyntax.TokenCQuote, false)
		case hclsyntax.TokenOHeredoc:
			s.push(hclsyntax.TokenCHeredoc, false)
		case hclsyntax.TokenTemplateInterp:
			s.push(hclsyntax.TokenTemplateSeqEnd, false)
		case hclsyntax.TokenTemplateControl:
			directive(s, tokens, i)
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen, hclsyntax.TokenCQuote,
			hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			s.pop(tok.Type)
		case hclsyntax.TokenBang, hclsyntax.TokenMinus, hclsyntax.TokenQuestion:
			s.chain(0)
		case hclsyntax.TokenStar:
			if i > 0 && tokens[i-1].Type == hclsyntax.TokenOBrack {
				s.chain(1) // a [*] splat nests the expression around the brackets
			} else {
				s.chain(0)
			}
		case hclsyntax.TokenComma:
			s.reset()
		case hclsyntax.TokenNewline:
			if f := s.top(); f != nil && f.lines {
				s.reset()
			}
		}
		if s.depth > max+1 { // +1: the file's body is no expression
			r := tok.Range
			return &r
		}
	}
	return nil
}

// directive handles %{: an if or for opens a level closed by its endif or
// endfor; the directive's own braces are a frame like an interpolation's.
func directive(s *nestScan, tokens hclsyntax.Tokens, i int) {
	kw := ""
	if i+1 < len(tokens) && tokens[i+1].Type == hclsyntax.TokenIdent {
		kw = string(tokens[i+1].Bytes)
	}
	switch kw {
	case "if", "for":
		s.push(hclsyntax.TokenTemplateControl, false)
	case "endif", "endfor":
		s.pop(hclsyntax.TokenTemplateControl)
	}
	s.push(hclsyntax.TokenTemplateSeqEnd, false)
}

// jsonNesting scans a JSON file's arrays and objects, and the template in each
// of its strings (hcl evaluates JSON strings as templates), for nesting
// deeper than max.
func jsonNesting(src []byte, filename string, max int) *hcl.Range {
	depth := 0
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '[', '{':
			depth++
			if depth > max {
				p := posAt(src, i)
				return &hcl.Range{Filename: filename, Start: p, End: p}
			}
		case ']', '}':
			depth--
		case '"':
			end := jsonStringEnd(src, i+1)
			if bytes.Contains(src[i+1:end], []byte("{")) {
				start := posAt(src, i+1)
				tokens, _ := hclsyntax.LexTemplate(src[i+1:end], filename, start)
				if r := tokenNesting(tokens, max, depth); r != nil {
					return r
				}
			}
			i = end
		}
	}
	return nil
}

// jsonStringEnd is the index of the quote closing a JSON string whose content
// starts at i (len(src) when it is not closed).
func jsonStringEnd(src []byte, i int) int {
	for ; i < len(src); i++ {
		switch src[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(src)
}
