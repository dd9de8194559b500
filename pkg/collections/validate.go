package collections

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// refCheck is a reference value that passed validation; the service checks
// that the record exists inside the write transaction.
type refCheck struct {
	field      string
	collection string
	id         string
}

// Validate checks record data (a JSON object) against the schema and returns
// the normalised object that would be stored: every schema field present, in
// schema order, coerced values in their coerced form, unknown keys dropped.
// Problems are reported together as a *ValidationError. Reference values are
// only checked to be strings here; whether the target record exists is
// checked by the Service when the record is written.
func (s Schema) Validate(data json.RawMessage) (json.RawMessage, error) {
	obj, err := decodeObject(data)
	if err != nil {
		return nil, err
	}
	out, _, err := s.validateObject(obj)
	return out, err
}

// decodeObject decodes a JSON object; empty input counts as {}.
func decodeObject(data json.RawMessage) (map[string]json.RawMessage, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return map[string]json.RawMessage{}, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return nil, &ValidationError{Errors: []FieldError{{Code: CodeType, Message: "data must be a JSON object"}}}
	}
	return obj, nil
}

func (s Schema) validateObject(obj map[string]json.RawMessage) (json.RawMessage, []refCheck, error) {
	var (
		errs []FieldError
		refs []refCheck
		buf  bytes.Buffer
	)
	buf.WriteByte('{')
	for i := range s.Fields {
		f := &s.Fields[i]
		v, present := obj[f.Name]
		null := present && isNull(v)
		var out json.RawMessage
		switch {
		case f.Required && (!present || null):
			msg := "is required"
			if null {
				msg = "must not be null"
			}
			errs = append(errs, FieldError{Field: f.Name, Code: CodeRequired, Message: msg})
			continue
		case !present && f.Default != nil:
			out = f.Default
		case !present:
			out = f.absent
		case null && f.Default != nil:
			errs = append(errs, FieldError{Field: f.Name, Code: CodeType,
				Message: "must not be null (the field has a default)"})
			continue
		case null:
			out = json.RawMessage("null")
		default:
			norm, fe := f.check(v)
			if fe != nil {
				if fe.Field == "" {
					fe.Field = f.Name
				} else {
					fe.Field = f.Name + fe.Field
				}
				errs = append(errs, *fe)
				continue
			}
			out = norm
		}
		if f.Type == TypeReference && !isNull(out) {
			var id string
			if json.Unmarshal(out, &id) == nil {
				refs = append(refs, refCheck{field: f.Name, collection: f.Collection, id: id})
			}
		}
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		buf.Write(encodeString(f.Name))
		buf.WriteByte(':')
		buf.Write(out)
	}
	if errs != nil {
		return nil, nil, &ValidationError{Errors: errs}
	}
	buf.WriteByte('}')
	return buf.Bytes(), refs, nil
}

// check validates one present, non-null value and returns its normalised
// JSON. A returned FieldError has no Field, or an item suffix like "[2]".
func (f *Field) check(v json.RawMessage) (json.RawMessage, *FieldError) {
	v = bytes.TrimSpace(v)
	if f.isList() {
		return f.checkList(v)
	}
	var (
		out json.RawMessage
		fe  *FieldError
	)
	switch f.Type {
	case TypeObject:
		if len(v) == 0 || v[0] != '{' {
			return nil, typeError("must be an object")
		}
		out, fe = compact(v), nil
	case TypeDate, TypeDateTime:
		out, fe = checkTime(f.Type, v)
	case TypeReference:
		s, ok := decodeString(v)
		if !ok {
			return nil, typeError("must be a record id (a string)")
		}
		out, fe = encodeString(s), nil
	default:
		out, fe = checkScalar(f.Type, v)
	}
	if fe != nil {
		return nil, fe
	}
	return f.checkConstraints(out)
}

// checkList validates an array and, for typed lists, coerces each item.
func (f *Field) checkList(v json.RawMessage) (json.RawMessage, *FieldError) {
	var items []json.RawMessage
	if len(v) == 0 || v[0] != '[' || json.Unmarshal(v, &items) != nil {
		return nil, typeError("must be an array")
	}
	if err := checkLength(f, len(items), "items"); err != nil {
		return nil, err
	}
	elem := f.elemType()
	if elem == "" {
		return compact(v), nil
	}
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, item := range items {
		out, fe := checkScalar(elem, bytes.TrimSpace(item))
		if fe != nil {
			fe.Field = "[" + strconv.Itoa(i) + "]"
			return nil, fe
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(out)
	}
	buf.WriteByte(']')
	return buf.Bytes(), nil
}

// checkScalar validates and coerces a string, number, integer or boolean.
func checkScalar(typ string, v json.RawMessage) (json.RawMessage, *FieldError) {
	switch typ {
	case TypeString:
		s, ok := decodeString(v)
		if !ok {
			return nil, typeError("must be a string")
		}
		return encodeString(s), nil
	case TypeInteger:
		lit, ok := numericText(v)
		if !ok {
			return nil, typeError("must be an integer")
		}
		n, res := parseInt(lit)
		switch res {
		case numOK:
			return json.RawMessage(strconv.FormatInt(n, 10)), nil
		case numNotInteger:
			return nil, typeError("must be a whole number")
		case numOutOfRange:
			return nil, typeError("is out of the 64-bit integer range")
		default:
			return nil, typeError("must be an integer")
		}
	case TypeNumber:
		lit, ok := numericText(v)
		if !ok {
			return nil, typeError("must be a number")
		}
		x, res := parseFloat(lit)
		switch res {
		case numOK:
			b, _ := json.Marshal(x)
			return b, nil
		case numOutOfRange:
			return nil, typeError("is out of the floating-point range")
		default:
			return nil, typeError("must be a number")
		}
	case TypeBoolean:
		b, ok := laxBool(v)
		if !ok {
			return nil, typeError("must be a boolean")
		}
		return json.RawMessage(strconv.FormatBool(b)), nil
	}
	return nil, typeError("has an unsupported type")
}

// numericText returns the number literal of a JSON number, or of a JSON
// string holding one (surrounding spaces allowed), the lax coercion TinyBase
// applies to integer and number fields.
func numericText(v json.RawMessage) (string, bool) {
	if len(v) == 0 {
		return "", false
	}
	switch c := v[0]; {
	case c == '-' || isDigit(c):
		return string(v), true
	case c == '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", false
		}
		return strings.TrimSpace(s), true
	}
	return "", false
}

// laxBool accepts true/false, the numbers 0 and 1, and the strings TinyBase
// accepts (case-insensitive): true/false, t/f, yes/no, y/n, on/off, 1/0.
func laxBool(v json.RawMessage) (bool, bool) {
	switch s := string(v); {
	case s == "true":
		return true, true
	case s == "false":
		return false, true
	case len(s) > 0 && (s[0] == '-' || isDigit(s[0])):
		n, res := parseInt(s)
		if res != numOK || (n != 0 && n != 1) {
			return false, false
		}
		return n == 1, true
	case len(s) > 0 && s[0] == '"':
		var str string
		if json.Unmarshal(v, &str) != nil {
			return false, false
		}
		switch strings.ToLower(strings.TrimSpace(str)) {
		case "true", "t", "yes", "y", "on", "1":
			return true, true
		case "false", "f", "no", "n", "off", "0":
			return false, true
		}
	}
	return false, false
}

// checkConstraints applies min/max, lengths and pattern to a normalised
// scalar value.
func (f *Field) checkConstraints(out json.RawMessage) (json.RawMessage, *FieldError) {
	switch f.Type {
	case TypeInteger:
		n, _ := parseInt(string(out))
		if f.Min != nil && cmpIntFloat(n, *f.Min) < 0 {
			return nil, &FieldError{Code: CodeMin, Message: "must be at least " + fmtBound(*f.Min)}
		}
		if f.Max != nil && cmpIntFloat(n, *f.Max) > 0 {
			return nil, &FieldError{Code: CodeMax, Message: "must be at most " + fmtBound(*f.Max)}
		}
	case TypeNumber:
		x, _ := parseFloat(string(out))
		if f.Min != nil && x < *f.Min {
			return nil, &FieldError{Code: CodeMin, Message: "must be at least " + fmtBound(*f.Min)}
		}
		if f.Max != nil && x > *f.Max {
			return nil, &FieldError{Code: CodeMax, Message: "must be at most " + fmtBound(*f.Max)}
		}
	}
	if f.isStringLike() && (f.MinLength != nil || f.MaxLength != nil || f.re != nil) {
		var s string
		if err := json.Unmarshal(out, &s); err != nil {
			return nil, typeError("must be a string")
		}
		if fe := checkLength(f, utf8.RuneCountInString(s), "characters"); fe != nil {
			return nil, fe
		}
		if f.re != nil && !f.re.MatchString(s) {
			return nil, &FieldError{Code: CodePattern, Message: fmt.Sprintf("does not match pattern %s", f.Pattern)}
		}
	}
	return out, nil
}

func checkLength(f *Field, n int, unit string) *FieldError {
	if f.MinLength != nil && n < *f.MinLength {
		return &FieldError{Code: CodeMinLength, Message: fmt.Sprintf("must have at least %d %s", *f.MinLength, unit)}
	}
	if f.MaxLength != nil && n > *f.MaxLength {
		return &FieldError{Code: CodeMaxLength, Message: fmt.Sprintf("must have at most %d %s", *f.MaxLength, unit)}
	}
	return nil
}

func fmtBound(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func typeError(msg string) *FieldError { return &FieldError{Code: CodeType, Message: msg} }

// decodeString decodes a JSON string. Invalid UTF-8 becomes U+FFFD, so what
// is stored after encodeString is valid UTF-8 in one canonical form.
func decodeString(v json.RawMessage) (string, bool) {
	if len(v) == 0 || v[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

// encodeString encodes s as a JSON string without HTML escaping.
func encodeString(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// compact returns an object or array without insignificant whitespace and
// with invalid UTF-8 (which valid JSON can only hold inside strings)
// replaced by U+FFFD, so stored text is always valid UTF-8.
func compact(v json.RawMessage) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, v); err != nil {
		return v
	}
	return bytes.ToValidUTF8(buf.Bytes(), []byte("\uFFFD"))
}
