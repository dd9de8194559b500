package collections

import (
	"fmt"
	"math"
	"strings"
)

// Compilation of a filter to SQL. Field names become json_extract
// expressions with the path inline (the form the field indexes are declared
// with); every value becomes a bound parameter, converted to the field's
// type so that SQLite compares like with like.
//
// Null semantics: a comparison with a field whose value is null (or absent)
// is false, whatever the operator; "is null" tests for it; and "not" is an
// exact negation, so "not (n = 1)" holds for a record whose n is null while
// "n != 1" does not. The compiler pushes "not" down to the conditions
// (De Morgan) and spells each negated condition out with its null case,
// which keeps every positive condition in a form an index can serve.

// Record columns that filters and sorts can use by their bare name.
var recordColumnTypes = map[string]string{
	"id":         TypeString,
	"owner_id":   TypeString,
	"created_at": TypeDateTime,
	"updated_at": TypeDateTime,
}

// target is a resolved field: the SQL expression and the type of its values.
type target struct {
	name string
	expr string
	typ  string
	// path is the JSON path literal of a data field, "" for a column.
	path string
}

// resolveField maps a field name to a record column or a data field of the
// schema. Bare id, owner_id, created_at and updated_at are the record's
// columns; "data.<name>" and `quoted` names are always data fields.
func resolveField(sch Schema, name string, quoted bool) (target, bool) {
	if !quoted {
		if typ, ok := recordColumnTypes[name]; ok {
			return target{name: name, expr: "r." + name, typ: typ}, true
		}
		if rest, ok := strings.CutPrefix(name, "data."); ok && sch.field(rest) != nil {
			name = rest
		}
	}
	f := sch.field(name)
	if f == nil {
		return target{}, false
	}
	return target{name: name, expr: fieldExpr(name), typ: f.Type, path: fieldPath(name)}, true
}

type filterCompiler struct {
	sch  Schema
	b    strings.Builder
	args []any
}

// compileFilter turns a filter into an SQL condition over the records row
// aliased r, with its arguments.
func compileFilter(sch Schema, src string) (string, []any, error) {
	n, err := parseFilter(src)
	if err != nil {
		return "", nil, err
	}
	c := &filterCompiler{sch: sch}
	if err := c.node(n, false); err != nil {
		return "", nil, err
	}
	return c.b.String(), c.args, nil
}

func (c *filterCompiler) node(n fnode, neg bool) error {
	switch n := n.(type) {
	case *fLogic:
		op := " OR "
		if n.and != neg {
			op = " AND "
		}
		c.b.WriteByte('(')
		for i, a := range n.args {
			if i > 0 {
				c.b.WriteString(op)
			}
			if err := c.node(a, neg); err != nil {
				return err
			}
		}
		c.b.WriteByte(')')
		return nil
	case *fNot:
		return c.node(n.x, !neg)
	case *fCmp:
		return c.cmp(n, neg)
	case *fIn:
		return c.in(n, neg)
	case *fContains:
		return c.contains(n, neg)
	case *fNull:
		t, err := c.resolve(n.field)
		if err != nil {
			return err
		}
		if n.not != neg {
			c.b.WriteString(t.expr + " IS NOT NULL")
		} else {
			c.b.WriteString(t.expr + " IS NULL")
		}
		return nil
	}
	return fmt.Errorf("filter: unknown node %T", n)
}

func (c *filterCompiler) resolve(f fField) (target, error) {
	t, ok := resolveField(c.sch, f.name, f.quoted)
	if !ok {
		return target{}, &FilterError{f.pos, fmt.Sprintf("unknown field %q", f.name)}
	}
	return t, nil
}

func (c *filterCompiler) cmp(n *fCmp, neg bool) error {
	t, err := c.resolve(n.field)
	if err != nil {
		return err
	}
	if t.typ == TypeBoolean && n.op != "=" && n.op != "!=" {
		return &FilterError{n.field.pos, fmt.Sprintf("%s is a boolean: use = or !=", t.name)}
	}
	v, err := bindValue(t.name, t.typ, n.val)
	if err != nil {
		return err
	}
	c.args = append(c.args, v)
	if neg {
		c.b.WriteString("(" + t.expr + " IS NULL OR NOT (" + t.expr + " " + n.op + " ?))")
	} else {
		c.b.WriteString(t.expr + " " + n.op + " ?")
	}
	return nil
}

func (c *filterCompiler) in(n *fIn, neg bool) error {
	t, err := c.resolve(n.field)
	if err != nil {
		return err
	}
	for _, lit := range n.vals {
		v, err := bindValue(t.name, t.typ, lit)
		if err != nil {
			return err
		}
		c.args = append(c.args, v)
	}
	list := "(" + strings.Repeat("?, ", len(n.vals)-1) + "?)"
	switch {
	case !n.not && !neg:
		c.b.WriteString(t.expr + " IN " + list)
	case n.not && !neg:
		c.b.WriteString(t.expr + " NOT IN " + list)
	case !n.not && neg:
		c.b.WriteString("(" + t.expr + " IS NULL OR " + t.expr + " NOT IN " + list + ")")
	default:
		c.b.WriteString("(" + t.expr + " IS NULL OR " + t.expr + " IN " + list + ")")
	}
	return nil
}

func (c *filterCompiler) contains(n *fContains, neg bool) error {
	t, err := c.resolve(n.field)
	if err != nil {
		return err
	}
	var cond string
	switch {
	case t.typ == TypeString || t.typ == TypeReference:
		if n.val.kind != litString {
			return &FilterError{n.val.pos, fmt.Sprintf("%s is a string: contains needs a quoted string", t.name)}
		}
		c.args = append(c.args, n.val.text)
		cond = "instr(" + t.expr + ", ?) > 0"
	case t.path != "" && (t.typ == TypeArray || strings.HasPrefix(t.typ, "list[")):
		elem := strings.TrimSuffix(strings.TrimPrefix(t.typ, "list["), "]")
		if t.typ == TypeArray {
			elem = ""
		}
		v, err := bindValue(t.name+" item", elem, n.val)
		if err != nil {
			return err
		}
		c.args = append(c.args, v)
		cond = "EXISTS (SELECT 1 FROM json_each(r.data, " + t.path + ") WHERE value = ?)"
	default:
		return &FilterError{n.field.pos, fmt.Sprintf("contains applies to strings and arrays, not to %s (%s)",
			t.name, t.typ)}
	}
	// cond is false, never null, for a non-null field.
	switch {
	case !n.not && !neg:
		c.b.WriteString(cond)
	case n.not && !neg:
		c.b.WriteString("(" + t.expr + " IS NOT NULL AND NOT " + cond + ")")
	case !n.not && neg:
		c.b.WriteString("(" + t.expr + " IS NULL OR NOT " + cond + ")")
	default:
		c.b.WriteString("(" + t.expr + " IS NULL OR " + cond + ")")
	}
	return nil
}

// bindValue converts a literal to the SQL value a field of type typ holds,
// so comparisons are exact: integers as int64 (never through float64),
// booleans as 1/0 (what json_extract returns for true/false), dates and
// date-times in their stored, sortable form. An empty typ (items of an
// untyped array) takes the literal as it is.
func bindValue(name, typ string, v fLit) (any, error) {
	mismatch := func(want string) error {
		return &FilterError{v.pos, fmt.Sprintf("%s is %s: %s", name, want, describeLit(v))}
	}
	switch typ {
	case "":
		switch v.kind {
		case litString:
			return v.text, nil
		case litBool:
			return boolInt(v.b), nil
		}
		return numberValue(name, v)
	case TypeString, TypeReference:
		if v.kind != litString {
			return nil, mismatch("a string")
		}
		return v.text, nil
	case TypeInteger, TypeNumber:
		if v.kind != litNumber {
			return nil, mismatch("a number")
		}
		return numberValue(name, v)
	case TypeBoolean:
		if v.kind != litBool {
			return nil, mismatch("a boolean")
		}
		return boolInt(v.b), nil
	case TypeDate, TypeDateTime:
		if v.kind != litString {
			return nil, mismatch("a date")
		}
		norm, fe := checkTime(typ, encodeString(v.text))
		if fe != nil {
			return nil, &FilterError{v.pos, fmt.Sprintf("%s: %q %s", name, v.text, fe.Message)}
		}
		s, _ := decodeString(norm)
		return s, nil
	}
	return nil, &FilterError{v.pos, fmt.Sprintf("%s (%s) can only be tested with is null or contains", name, typ)}
}

func numberValue(name string, v fLit) (any, error) {
	if v.kind != litNumber {
		return nil, &FilterError{v.pos, fmt.Sprintf("%s is a number: %s", name, describeLit(v))}
	}
	if n, res := parseInt(v.text); res == numOK {
		return n, nil
	}
	f, res := parseFloat(v.text)
	if res != numOK || math.IsInf(f, 0) {
		return nil, &FilterError{v.pos, fmt.Sprintf("%s: number %s is out of range", name, v.text)}
	}
	return f, nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func describeLit(v fLit) string {
	switch v.kind {
	case litNumber:
		return "got the number " + v.text
	case litBool:
		return fmt.Sprintf("got %t", v.b)
	}
	return fmt.Sprintf("got the string %q", v.text)
}
