package sdk

import (
	"errors"
	"fmt"
	"reflect"
	"unicode"
	"unicode/utf8"
)

// Error is a function failure with an explicit error_type. Return one from
// a handler to choose the type callers see:
//
//	return Output{}, &sdk.Error{Type: "NotFound", Message: "no such order"}
//
// Other errors get the name of their exported type (for example
// "NumError" for a *strconv.NumError), looked up along the Unwrap chain,
// or "Error".
type Error struct {
	Type    string
	Message string
}

// Errorf returns an *Error of the given type with a formatted message.
func Errorf(errorType, format string, args ...any) *Error {
	return &Error{Type: errorType, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string { return e.Message }

// ErrorType returns e.Type; any error with an ErrorType method names its
// own error_type this way.
func (e *Error) ErrorType() string { return e.Type }

// Error types the SDK reports itself.
const (
	// ErrorTypeValidation: the payload does not match the input type.
	ErrorTypeValidation = "ValidationError"
	// ErrorTypePanic: the handler panicked.
	ErrorTypePanic = "Panic"
	// ErrorTypeJSONDecode: a request line is not a JSON object.
	ErrorTypeJSONDecode = "JSONDecodeError"
	// ErrorTypeDefault: an error whose type has no exported name.
	ErrorTypeDefault = "Error"
)

// validationError builds the error reported for a payload that does not
// match the input type; messages name the field as the Python SDK does.
func validationError(format string, args ...any) *Error {
	return &Error{Type: ErrorTypeValidation, Message: fmt.Sprintf(format, args...)}
}

// errorType names the error_type of a failure: the ErrorType() of the
// first error in the chain that has one, else the first exported type
// name in the chain, else ErrorTypeDefault.
func errorType(err error) string {
	var typed interface{ ErrorType() string }
	if errors.As(err, &typed) {
		if t := typed.ErrorType(); t != "" {
			return t
		}
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		t := reflect.TypeOf(e)
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if r, _ := utf8.DecodeRuneInString(t.Name()); unicode.IsUpper(r) {
			return t.Name()
		}
	}
	return ErrorTypeDefault
}

// errorMessage is err's text, or its type when the text is empty.
func errorMessage(err error) string {
	if msg := err.Error(); msg != "" {
		return msg
	}
	return errorType(err)
}
