package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Error is the one error type handlers return. Its body keeps the TinyBase
// wire shape ({"detail": ...}) with machine-readable fields beside it.
type Error struct {
	Status  int
	Code    string
	Message string
	Fields  []FieldError
	// Headers are added to the response (WWW-Authenticate, Retry-After).
	Headers map[string]string
	// CallID names the function call a 503 or 504 is about: it goes on
	// and can be read later.
	CallID string
	Cause  error
}

// FieldError is one field-keyed validation problem.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Message + ": " + e.Cause.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

func newError(status int, code, msg string) *Error {
	return &Error{Status: status, Code: code, Message: msg}
}

func badRequest(msg string) *Error { return newError(http.StatusBadRequest, "bad_request", msg) }
func notFound(msg string) *Error   { return newError(http.StatusNotFound, "not_found", msg) }
func forbidden(msg string) *Error  { return newError(http.StatusForbidden, "forbidden", msg) }
func unprocessable(msg string) *Error {
	return newError(http.StatusUnprocessableEntity, "invalid_request", msg)
}

func unauthorized(msg string) *Error {
	e := newError(http.StatusUnauthorized, "unauthorized", msg)
	e.Headers = map[string]string{"WWW-Authenticate": "Bearer"}
	return e
}

type errorBody struct {
	Detail  string       `json:"detail"`
	Code    string       `json:"code,omitempty"`
	Errors  []FieldError `json:"errors,omitempty"`
	ErrorID string       `json:"error_id,omitempty"`
	CallID  string       `json:"call_id,omitempty"`
}

// errorHandler renders every error a handler returns. Unexpected errors
// become a 500 with a short id that also appears in the log line, and
// never leak their text to the client.
func errorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		var ae *Error
		var fe *fiber.Error
		switch {
		case errors.As(err, &ae):
		case errors.As(err, &fe):
			ae = &Error{Status: fe.Code, Code: strings.ReplaceAll(strings.ToLower(http.StatusText(fe.Code)), " ", "_"),
				Message: fe.Message}
			if fe.Code == http.StatusRequestEntityTooLarge {
				ae.Code = "payload_too_large"
				ae.Message = "Request body too large"
			}
		default:
			ae = &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "Internal server error",
				Cause: err}
		}
		body := errorBody{Detail: ae.Message, Code: ae.Code, Errors: ae.Fields, CallID: ae.CallID}
		switch {
		case ae.Status == http.StatusInternalServerError:
			body.ErrorID = errorID()
			log.Error("request failed", "error_id", body.ErrorID, "method", c.Method(), "path", c.Path(),
				"status", ae.Status, "error", err)
		case ae.Status > 500:
			// Expected unavailability (no workers, restarting, a slow
			// call): worth a warning, not an error.
			log.Warn("request not served", "method", c.Method(), "path", c.Path(), "status", ae.Status,
				"code", ae.Code)
		}
		for k, v := range ae.Headers {
			c.Set(k, v)
		}
		return c.Status(ae.Status).JSON(body)
	}
}

func errorID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
