package collections

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. The service returns them wrapped in an error whose message
// names the collection or record, so match them with errors.Is and show
// err.Error() to the client.
var (
	// ErrCollectionNotFound means no collection has the requested name.
	ErrCollectionNotFound = errors.New("collection not found")
	// ErrCollectionExists means a collection with the requested name exists.
	ErrCollectionExists = errors.New("collection already exists")
	// ErrRecordNotFound means the collection has no record with the requested id.
	ErrRecordNotFound = errors.New("record not found")
	// ErrOwnerNotFound means a record was to be owned by a user that does not exist
	// (for example one deleted after their token was issued).
	ErrOwnerNotFound = errors.New("owner not found")
	// ErrStoredSchemaInvalid means a schema already in the database no longer
	// parses. It is a server-side problem, unlike a *SchemaError on input.
	ErrStoredSchemaInvalid = errors.New("stored schema is invalid")
)

// Validation error codes, stable for clients.
const (
	CodeRequired  = "required"
	CodeType      = "type"
	CodeMin       = "min"
	CodeMax       = "max"
	CodeMinLength = "min_length"
	CodeMaxLength = "max_length"
	CodePattern   = "pattern"
	CodeFormat    = "format"
	CodeReference = "reference"
	// CodeUnique: the value is already held by another record.
	CodeUnique = "unique"
	// CodeDuplicate: a field cannot be made unique because existing
	// records share this value.
	CodeDuplicate = "duplicate"
	// CodeRestrict: a record cannot be deleted because records refer to it.
	CodeRestrict = "restrict"
)

// namedError carries a client-facing message that names the missing or
// conflicting resource, and matches its sentinel with errors.Is.
type namedError struct {
	msg  string
	kind error
}

func (e *namedError) Error() string { return e.msg }
func (e *namedError) Unwrap() error { return e.kind }

func collectionNotFound(name string) error {
	return &namedError{msg: fmt.Sprintf("Collection '%s' not found", name), kind: ErrCollectionNotFound}
}

func collectionExists(name string) error {
	return &namedError{msg: fmt.Sprintf("Collection '%s' already exists", name), kind: ErrCollectionExists}
}

func recordNotFound(id string) error {
	return &namedError{msg: fmt.Sprintf("Record '%s' not found", id), kind: ErrRecordNotFound}
}

// SchemaError reports why a collection schema was rejected. Field is the
// field's name, or "fields[i]" when the field has no usable name, or empty
// for a problem with the schema as a whole.
type SchemaError struct {
	Field   string
	Message string
}

// Error starts with "Invalid schema: ", the prefix TinyBase clients expect.
func (e *SchemaError) Error() string {
	if e.Field == "" {
		return "Invalid schema: " + e.Message
	}
	return "Invalid schema: " + e.Field + ": " + e.Message
}

// FieldError is one problem with one record field.
type FieldError struct {
	// Field is the schema field name, with an index for list items
	// ("tags[2]"); empty when the record as a whole is wrong.
	Field string `json:"field"`
	// Code is one of the Code* constants.
	Code string `json:"code"`
	// Message is a human-readable explanation.
	Message string `json:"message"`
}

// ValidationError lists every problem found in a record, in schema order.
type ValidationError struct {
	Errors []FieldError `json:"errors"`
}

// Error starts with "Validation error: ", the prefix TinyBase clients expect,
// followed by "<field>: <message>" entries separated by "; ".
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("Validation error: ")
	for i, fe := range e.Errors {
		if i > 0 {
			b.WriteString("; ")
		}
		if fe.Field != "" {
			b.WriteString(fe.Field)
			b.WriteString(": ")
		}
		b.WriteString(fe.Message)
	}
	return b.String()
}

// UniqueError reports unique fields whose values are taken: by another
// record, for a record write, or by several existing records, when a schema
// change would make the field unique.
type UniqueError struct {
	Errors []FieldError `json:"errors"`
	// existing is set for the schema-change case.
	existing bool
}

// SchemaChange reports whether the error refuses a schema change (existing
// records share values) rather than a record write.
func (e *UniqueError) SchemaChange() bool { return e.existing }

// Error starts with "Unique constraint failed: " (for a schema change,
// "Invalid schema: unique fields have duplicate values: ") followed by
// "<field>: <message>" entries separated by "; ".
func (e *UniqueError) Error() string {
	var b strings.Builder
	if e.existing {
		b.WriteString("Invalid schema: unique fields have duplicate values: ")
	} else {
		b.WriteString("Unique constraint failed: ")
	}
	for i, fe := range e.Errors {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(fe.Field)
		b.WriteString(": ")
		b.WriteString(fe.Message)
	}
	return b.String()
}

// ReferencedError refuses to delete a record or a collection that others
// refer to. Errors name the referring fields as "<collection>.<field>".
type ReferencedError struct {
	Message string
	Errors  []FieldError
}

func (e *ReferencedError) Error() string { return e.Message }

// InputError reports an invalid argument other than a schema or record data:
// a collection name or label, options, or list parameters.
type InputError struct {
	Field   string
	Message string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Message }
