package extension

import (
	"encoding/json"
	"fmt"
	"time"
)

// Caller is who caused an event or sent a request; UserID is empty for
// anonymous callers and the system.
type Caller struct {
	UserID  string
	IsAdmin bool
}

// RecordEvent is a record hook's event. For before-create Data is the data
// sent; for before-update it is the patch sent and OldData the stored
// record; for before-delete, after-create and after-update it is the
// stored data; an after-delete carries RecordID only.
type RecordEvent struct {
	Hook       Hook
	At         time.Time
	Caller     Caller
	Collection string
	RecordID   string
	OwnerID    string
	Data       map[string]any
	OldData    map[string]any

	changed bool
}

// Set changes a field of the data about to be written (before-create and
// before-update only; TinyBase ignores changes made by other hooks).
func (e *RecordEvent) Set(field string, value any) {
	if e.Data == nil {
		e.Data = map[string]any{}
	}
	e.Data[field] = value
	e.changed = true
}

// Delete removes a field from the data about to be written.
func (e *RecordEvent) Delete(field string) {
	delete(e.Data, field)
	e.changed = true
}

// Event is a non-record hook's event. Data holds its fields (user_id,
// function, status, …; see docs/extensions.md).
type Event struct {
	Hook    Hook
	At      time.Time
	Caller  Caller
	Subject string
	Data    map[string]any
}

// RefusalError refuses a before-hook's operation (or answers a route) with
// an HTTP status and a message for the client.
type RefusalError struct {
	Status  int
	Message string
}

func (e *RefusalError) Error() string { return fmt.Sprintf("refused (%d): %s", e.Status, e.Message) }

// Refuse returns a *RefusalError; status 0 means 400.
func Refuse(status int, message string) error {
	if status == 0 {
		status = 400
	}
	return &RefusalError{Status: status, Message: message}
}

// Request is an HTTP request to one of the extension's routes.
type Request struct {
	Method string
	// Path is below /api/ext/<name> and starts with "/".
	Path    string
	Query   string
	Headers map[string]string
	Body    []byte
	Caller  Caller
}

// Response is a route's answer.
type Response struct {
	Status  int
	Headers map[string]string
	Body    []byte
}

// JSON returns a response with v encoded as JSON.
func JSON(status int, v any) *Response {
	body, err := json.Marshal(v)
	if err != nil {
		return &Response{Status: 500, Headers: map[string]string{"content-type": "application/json"},
			Body: []byte(`{"detail":"extension could not encode its answer"}`)}
	}
	return &Response{Status: status, Headers: map[string]string{"content-type": "application/json"}, Body: body}
}
