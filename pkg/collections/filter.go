package collections

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The filter language of record listings. docs/collections.md is its
// reference; in short:
//
//	filter    = or EOF
//	or        = and { ("or" | "||") and }
//	and       = unary { ("and" | "&&") unary }
//	unary     = ("not" | "!") unary | "(" or ")" | predicate
//	predicate = field ( cmpop value
//	                  | ["not"] "in" "(" value { "," value } ")"
//	                  | ["not"] "contains" value
//	                  | "is" ["not"] "null" )
//	cmpop     = "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
//	value     = string | number | "true" | "false"
//	field     = name { "." name } | "`" any text without backquote "`"
//
// Keywords are case-insensitive. The parser is a hand-written recursive
// descent over a token list, with limits on length, nesting and size so
// that no input can exhaust the stack or the planner.
//
// TODO(filter): paths into object fields (address.city) and list items;
// only top-level fields and record columns can be named today.

// Filter limits.
const (
	MaxFilterLength = 4096
	maxFilterDepth  = 32
	maxFilterTerms  = 128
	maxInValues     = 256
)

// FilterError is a filter that does not parse or does not fit the schema.
// Pos is the byte offset of the problem in the filter text.
type FilterError struct {
	Pos     int
	Message string
}

func (e *FilterError) Error() string {
	return fmt.Sprintf("filter: %s (at offset %d)", e.Message, e.Pos)
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokQuotedIdent
	tokString
	tokNumber
	tokOp // = == != <> < <= > >=
	tokLParen
	tokRParen
	tokComma
	tokAnd // && or the keyword (keywords are tokIdent until parsed)
	tokOr
	tokBang
)

type token struct {
	kind tokKind
	text string // identifier, decoded string, number literal or operator
	pos  int
}

func lexFilter(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, token{tokLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tokRParen, ")", i})
			i++
		case c == ',':
			toks = append(toks, token{tokComma, ",", i})
			i++
		case c == '&' || c == '|':
			if i+1 >= len(src) || src[i+1] != c {
				return nil, &FilterError{i, fmt.Sprintf("unexpected %q (use %c%c)", c, c, c)}
			}
			k := tokAnd
			if c == '|' {
				k = tokOr
			}
			toks = append(toks, token{k, src[i : i+2], i})
			i += 2
		case c == '=' || c == '<' || c == '>' || c == '!':
			op := string(c)
			if i+1 < len(src) {
				two := src[i : i+2]
				switch two {
				case "==", "!=", "<=", ">=", "<>":
					op = two
				}
			}
			if op == "!" {
				toks = append(toks, token{tokBang, "!", i})
			} else {
				toks = append(toks, token{tokOp, op, i})
			}
			i += len(op)
		case c == '\'' || c == '"':
			s, n, err := lexString(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{tokString, s, i})
			i += n
		case c == '`':
			end := strings.IndexByte(src[i+1:], '`')
			if end < 0 {
				return nil, &FilterError{i, "unterminated `quoted` field name"}
			}
			if end == 0 {
				return nil, &FilterError{i, "empty `quoted` field name"}
			}
			toks = append(toks, token{tokQuotedIdent, src[i+1 : i+1+end], i})
			i += end + 2
		case c == '-' || c == '.' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(src) && strings.IndexByte("0123456789.eE+-", src[j]) >= 0 {
				// A sign is part of the number only right after an exponent.
				if (src[j] == '+' || src[j] == '-') && src[j-1] != 'e' && src[j-1] != 'E' {
					break
				}
				j++
			}
			lit := src[i:j]
			if _, ok := parseNumLiteral(lit); !ok {
				return nil, &FilterError{i, fmt.Sprintf("invalid number %q", lit)}
			}
			toks = append(toks, token{tokNumber, lit, i})
			i = j
		default:
			r, size := utf8.DecodeRuneInString(src[i:])
			if !isIdentStart(r) {
				if r == utf8.RuneError && size <= 1 {
					return nil, &FilterError{i, "invalid UTF-8"}
				}
				return nil, &FilterError{i, fmt.Sprintf("unexpected character %q", r)}
			}
			j := i + size
			for j < len(src) {
				r, size := utf8.DecodeRuneInString(src[j:])
				if !isIdentPart(r) && r != '.' {
					break
				}
				j += size
			}
			toks = append(toks, token{tokIdent, src[i:j], i})
			i = j
		}
	}
	return append(toks, token{tokEOF, "", len(src)}), nil
}

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isIdentPart(r rune) bool  { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// lexString reads a quoted string at src[i] with the escapes \\ \' \" \n
// \r \t and \u followed by four hex digits, returning the decoded text and
// the bytes consumed.
func lexString(src string, i int) (string, int, error) {
	quote := src[i]
	var b strings.Builder
	j := i + 1
	for j < len(src) {
		c := src[j]
		switch {
		case c == quote:
			return b.String(), j + 1 - i, nil
		case c == '\\':
			if j+1 >= len(src) {
				return "", 0, &FilterError{j, "unterminated escape"}
			}
			switch e := src[j+1]; e {
			case '\\', '\'', '"':
				b.WriteByte(e)
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				if j+6 > len(src) {
					return "", 0, &FilterError{j, `\u needs four hex digits`}
				}
				n, err := strconv.ParseUint(src[j+2:j+6], 16, 16)
				if err != nil {
					return "", 0, &FilterError{j, `\u needs four hex digits`}
				}
				b.WriteRune(rune(n))
				j += 4
			default:
				return "", 0, &FilterError{j, fmt.Sprintf("unknown escape \\%c", e)}
			}
			j += 2
		default:
			b.WriteByte(c)
			j++
		}
	}
	return "", 0, &FilterError{i, "unterminated string"}
}

// Filter syntax tree.

type fnode interface {
	// write renders the node in canonical filter syntax.
	write(b *strings.Builder)
}

type fLogic struct {
	and  bool
	args []fnode
}

type fNot struct{ x fnode }

type litKind int

const (
	litString litKind = iota
	litNumber
	litBool
)

type fLit struct {
	kind litKind
	text string // decoded string or number literal
	b    bool
	pos  int
}

// fField is a field reference; quoted (`name`) ones always name a data
// field, bare ones may name a record column (see resolveField).
type fField struct {
	name   string
	quoted bool
	pos    int
}

type fCmp struct {
	field fField
	op    string // = != < <= > >=
	val   fLit
}

type fIn struct {
	field fField
	not   bool
	vals  []fLit
}

type fContains struct {
	field fField
	not   bool
	val   fLit
}

type fNull struct {
	field fField
	not   bool
}

type filterParser struct {
	toks  []token
	i     int
	depth int
	terms int
}

// parseFilter parses a filter expression into its syntax tree.
func parseFilter(src string) (fnode, error) {
	if len(src) > MaxFilterLength {
		return nil, &FilterError{MaxFilterLength, fmt.Sprintf("longer than %d bytes", MaxFilterLength)}
	}
	if !utf8.ValidString(src) {
		return nil, &FilterError{0, "not valid UTF-8"}
	}
	toks, err := lexFilter(src)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.unexpected(t, "and, or or the end")
	}
	return n, nil
}

func (p *filterParser) peek() token { return p.toks[p.i] }
func (p *filterParser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

// keyword reports whether t is the (case-insensitive) keyword kw.
func keyword(t token, kw string) bool { return t.kind == tokIdent && strings.EqualFold(t.text, kw) }

var reserved = []string{"and", "or", "not", "in", "contains", "is", "null", "true", "false"}

func isReserved(s string) bool {
	for _, kw := range reserved {
		if strings.EqualFold(s, kw) {
			return true
		}
	}
	return false
}

func (p *filterParser) unexpected(t token, want string) error {
	if t.kind == tokEOF {
		return &FilterError{t.pos, "unexpected end, expected " + want}
	}
	return &FilterError{t.pos, fmt.Sprintf("unexpected %q, expected %s", t.text, want)}
}

func (p *filterParser) or() (fnode, error) {
	first, err := p.and()
	if err != nil {
		return nil, err
	}
	args := []fnode{first}
	for t := p.peek(); t.kind == tokOr || keyword(t, "or"); t = p.peek() {
		p.next()
		n, err := p.and()
		if err != nil {
			return nil, err
		}
		args = append(args, n)
	}
	if len(args) == 1 {
		return first, nil
	}
	return &fLogic{and: false, args: args}, nil
}

func (p *filterParser) and() (fnode, error) {
	first, err := p.unary()
	if err != nil {
		return nil, err
	}
	args := []fnode{first}
	for t := p.peek(); t.kind == tokAnd || keyword(t, "and"); t = p.peek() {
		p.next()
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		args = append(args, n)
	}
	if len(args) == 1 {
		return first, nil
	}
	return &fLogic{and: true, args: args}, nil
}

func (p *filterParser) unary() (fnode, error) {
	t := p.peek()
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxFilterDepth {
		return nil, &FilterError{t.pos, fmt.Sprintf("nested deeper than %d levels", maxFilterDepth)}
	}
	switch {
	case t.kind == tokBang || keyword(t, "not"):
		p.next()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &fNot{x: x}, nil
	case t.kind == tokLParen:
		p.next()
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if r := p.next(); r.kind != tokRParen {
			return nil, p.unexpected(r, "')'")
		}
		return x, nil
	}
	return p.predicate()
}

func (p *filterParser) field() (fField, error) {
	t := p.next()
	switch {
	case t.kind == tokQuotedIdent:
		return fField{name: t.text, quoted: true, pos: t.pos}, nil
	case t.kind == tokIdent && !isReserved(t.text):
		for _, part := range strings.Split(t.text, ".") {
			if part == "" {
				return fField{}, &FilterError{t.pos, fmt.Sprintf("invalid field name %q", t.text)}
			}
		}
		return fField{name: t.text, pos: t.pos}, nil
	}
	return fField{}, p.unexpected(t, "a field name")
}

func (p *filterParser) predicate() (fnode, error) {
	f, err := p.field()
	if err != nil {
		return nil, err
	}
	p.terms++
	if p.terms > maxFilterTerms {
		return nil, &FilterError{f.pos, fmt.Sprintf("more than %d conditions", maxFilterTerms)}
	}
	t := p.next()
	switch {
	case t.kind == tokOp:
		op := t.text
		switch op {
		case "==":
			op = "="
		case "<>":
			op = "!="
		}
		if n := p.peek(); keyword(n, "null") {
			return nil, &FilterError{n.pos, "compare with null using 'is null' or 'is not null'"}
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		return &fCmp{field: f, op: op, val: v}, nil
	case keyword(t, "is"):
		not := false
		if keyword(p.peek(), "not") {
			p.next()
			not = true
		}
		if n := p.next(); !keyword(n, "null") {
			return nil, p.unexpected(n, "null")
		}
		return &fNull{field: f, not: not}, nil
	case keyword(t, "not"):
		n := p.next()
		switch {
		case keyword(n, "in"):
			return p.in(f, true)
		case keyword(n, "contains"):
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			return &fContains{field: f, not: true, val: v}, nil
		}
		return nil, p.unexpected(n, "in or contains")
	case keyword(t, "in"):
		return p.in(f, false)
	case keyword(t, "contains"):
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		return &fContains{field: f, val: v}, nil
	}
	return nil, p.unexpected(t, "an operator (=, !=, <, <=, >, >=, in, contains, is)")
}

func (p *filterParser) in(f fField, not bool) (fnode, error) {
	if t := p.next(); t.kind != tokLParen {
		return nil, p.unexpected(t, "'(' after in")
	}
	var vals []fLit
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
		if len(vals) > maxInValues {
			return nil, &FilterError{v.pos, fmt.Sprintf("more than %d values in a list", maxInValues)}
		}
		t := p.next()
		if t.kind == tokRParen {
			return &fIn{field: f, not: not, vals: vals}, nil
		}
		if t.kind != tokComma {
			return nil, p.unexpected(t, "',' or ')'")
		}
	}
}

func (p *filterParser) value() (fLit, error) {
	t := p.next()
	switch {
	case t.kind == tokString:
		return fLit{kind: litString, text: t.text, pos: t.pos}, nil
	case t.kind == tokNumber:
		return fLit{kind: litNumber, text: t.text, pos: t.pos}, nil
	case keyword(t, "true"), keyword(t, "false"):
		return fLit{kind: litBool, b: strings.EqualFold(t.text, "true"), pos: t.pos}, nil
	case keyword(t, "null"):
		return fLit{}, &FilterError{t.pos, "null is not a value here; use 'is null'"}
	}
	return fLit{}, p.unexpected(t, "a value (a quoted string, a number, true or false)")
}

// Canonical rendering, used by tests to check that parsing is stable.

func filterString(n fnode) string {
	var b strings.Builder
	n.write(&b)
	return b.String()
}

func (n *fLogic) write(b *strings.Builder) {
	op := " or "
	if n.and {
		op = " and "
	}
	b.WriteByte('(')
	for i, a := range n.args {
		if i > 0 {
			b.WriteString(op)
		}
		a.write(b)
	}
	b.WriteByte(')')
}

func (n *fNot) write(b *strings.Builder) {
	b.WriteString("not ")
	n.x.write(b)
}

func (f fField) write(b *strings.Builder) {
	if !f.quoted {
		b.WriteString(f.name)
		return
	}
	b.WriteByte('`')
	b.WriteString(f.name)
	b.WriteByte('`')
}

func (v fLit) write(b *strings.Builder) {
	switch v.kind {
	case litNumber:
		b.WriteString(v.text)
	case litBool:
		b.WriteString(strconv.FormatBool(v.b))
	default:
		b.WriteByte('\'')
		for _, r := range v.text {
			switch r {
			case '\\', '\'':
				b.WriteByte('\\')
				b.WriteRune(r)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte('\'')
	}
}

func (n *fCmp) write(b *strings.Builder) {
	n.field.write(b)
	b.WriteString(" " + n.op + " ")
	n.val.write(b)
}

func (n *fIn) write(b *strings.Builder) {
	n.field.write(b)
	if n.not {
		b.WriteString(" not")
	}
	b.WriteString(" in (")
	for i, v := range n.vals {
		if i > 0 {
			b.WriteString(", ")
		}
		v.write(b)
	}
	b.WriteByte(')')
}

func (n *fContains) write(b *strings.Builder) {
	n.field.write(b)
	if n.not {
		b.WriteString(" not")
	}
	b.WriteString(" contains ")
	n.val.write(b)
}

func (n *fNull) write(b *strings.Builder) {
	n.field.write(b)
	b.WriteString(" is ")
	if n.not {
		b.WriteString("not ")
	}
	b.WriteString("null")
}
