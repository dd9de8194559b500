package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// CallInfo is the context of a call: who called the function and how to
// reach the API. Unknown keys sent by newer workers are ignored.
type CallInfo struct {
	// APIBaseURL is the root of the REST API including /api.
	APIBaseURL string `json:"api_base_url"`
	// AuthToken is a short-lived bearer token acting as the caller.
	AuthToken string `json:"auth_token"`
	// UserID is the caller's user id; nil for anonymous and scheduled calls.
	UserID    *string `json:"user_id"`
	IsAdmin   bool    `json:"is_admin"`
	RequestID string  `json:"request_id"`
	// FunctionName is the function's registered name.
	FunctionName string `json:"function_name"`
}

// String leaves the token out, so logging a CallInfo never leaks it.
func (ci CallInfo) String() string {
	user := "anonymous"
	if ci.UserID != nil {
		user = *ci.UserID
	}
	return fmt.Sprintf("call %s of %s by %s (admin %t)", ci.RequestID, ci.FunctionName, user, ci.IsAdmin)
}

// DefaultTimeout bounds each request of a Client.
const DefaultTimeout = 30 * time.Second

// maxResponseBytes bounds a response body a Client reads.
const maxResponseBytes = 64 << 20

// Transports are shared by all clients so warm processes reuse connections.
var (
	directTransport = newTransport(nil)
	proxyTransport  = newTransport(http.ProxyFromEnvironment)
)

func newTransport(proxy func(*http.Request) (*url.URL, error)) *http.Transport {
	return &http.Transport{
		Proxy:               proxy,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
}

// Client talks to the TinyBase REST API. The client a handler receives is
// authenticated as the function's caller; its methods are safe for
// concurrent use.
type Client struct {
	base  string
	token string
	info  CallInfo
	http  *http.Client
}

// NewClient returns a client for the API rooted at baseURL (including
// /api, e.g. http://127.0.0.1:8000/api) that sends token as a bearer token
// when it is not empty. Loopback URLs never go through a proxy, so a proxy
// configured for a function's outbound traffic does not capture calls back
// to an API on the same host.
func NewClient(baseURL, token string) *Client {
	base := strings.TrimRight(baseURL, "/")
	tr := proxyTransport
	if u, err := url.Parse(base); err == nil && isLoopback(u.Hostname()) {
		tr = directTransport
	}
	return &Client{base: base, token: token, http: &http.Client{Transport: tr, Timeout: DefaultTimeout}}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// WithTimeout returns a copy of c whose requests time out after d; zero
// means no timeout.
func (c *Client) WithTimeout(d time.Duration) *Client {
	cp := *c
	hc := *c.http
	hc.Timeout = d
	cp.http = &hc
	return &cp
}

// Info returns the context of the call the client was made for; it is
// zero for a client from NewClient.
func (c *Client) Info() CallInfo { return c.info }

// BaseURL returns the API root the client talks to.
func (c *Client) BaseURL() string { return c.base }

// APIError is an error answer of the API.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Detail is the "detail" of the error body: its text when it is a
	// string, its JSON otherwise, or the raw body when it is not JSON.
	Detail string
}

func (e *APIError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Detail) }

// ErrorType lets a handler return an APIError as is: the call fails with
// error_type "APIError".
func (e *APIError) ErrorType() string { return "APIError" }

// Do sends one request. path is relative to the API root ("collections",
// "functions/hello"); query may be nil; body, when not nil, is sent as
// JSON; the JSON answer is decoded into out unless out is nil. An answer
// with status 400 or above is returned as *APIError.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	if c.base == "" {
		return fmt.Errorf("tinybase: %s %s: client has no API base URL", method, path)
	}
	u := c.base + "/" + strings.TrimLeft(path, "/")
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("tinybase: %s %s: encode body: %w", method, path, err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("tinybase: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("tinybase: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("tinybase: %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 400 {
		return &APIError{Status: resp.StatusCode, Detail: errorDetail(resp.StatusCode, data)}
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("tinybase: %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

func errorDetail(status int, body []byte) string {
	var doc struct {
		Detail json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &doc) == nil && len(doc.Detail) > 0 {
		var s string
		if json.Unmarshal(doc.Detail, &s) == nil {
			return s
		}
		return string(doc.Detail)
	}
	if text := strings.TrimSpace(string(body)); text != "" {
		if len(text) > 1000 {
			text = text[:1000] + "…"
		}
		return text
	}
	return http.StatusText(status)
}

// Get sends a GET request; see Do.
func (c *Client) Get(ctx context.Context, path string, query url.Values, out any) error {
	return c.Do(ctx, http.MethodGet, path, query, nil, out)
}

// Post sends a POST request with a JSON body; see Do.
func (c *Client) Post(ctx context.Context, path string, body, out any) error {
	return c.Do(ctx, http.MethodPost, path, nil, body, out)
}

// Put sends a PUT request with a JSON body; see Do.
func (c *Client) Put(ctx context.Context, path string, body, out any) error {
	return c.Do(ctx, http.MethodPut, path, nil, body, out)
}

// Patch sends a PATCH request with a JSON body; see Do.
func (c *Client) Patch(ctx context.Context, path string, body, out any) error {
	return c.Do(ctx, http.MethodPatch, path, nil, body, out)
}

// Delete sends a DELETE request; see Do.
func (c *Client) Delete(ctx context.Context, path string, out any) error {
	return c.Do(ctx, http.MethodDelete, path, nil, nil, out)
}

// Record is a record of a collection.
type Record struct {
	ID           string          `json:"id"`
	CollectionID string          `json:"collection_id"`
	OwnerID      *string         `json:"owner_id"`
	Data         json.RawMessage `json:"data"`
	CreatedAt    string          `json:"created_at"`
	UpdatedAt    string          `json:"updated_at"`
}

// Decode decodes the record's data into v.
func (r *Record) Decode(v any) error { return json.Unmarshal(r.Data, v) }

// RecordList is a page of records.
type RecordList struct {
	Records []Record `json:"records"`
	Total   int      `json:"total"`
	Limit   int      `json:"limit"`
	Offset  int      `json:"offset"`
}

// ListOptions page and sort a record list; zero values leave the server's
// defaults (limit 100, newest first).
type ListOptions struct {
	Limit     int
	Offset    int
	SortBy    string // "created_at" or "updated_at"
	SortOrder string // "asc" or "desc"
}

func (o ListOptions) query() url.Values {
	q := url.Values{}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Offset > 0 {
		q.Set("offset", strconv.Itoa(o.Offset))
	}
	if o.SortBy != "" {
		q.Set("sort_by", o.SortBy)
	}
	if o.SortOrder != "" {
		q.Set("sort_order", o.SortOrder)
	}
	return q
}

func recordsPath(collection string) string {
	return "collections/" + url.PathEscape(collection) + "/records"
}

// ListRecords lists records of a collection.
func (c *Client) ListRecords(ctx context.Context, collection string, opts ListOptions) (*RecordList, error) {
	var out RecordList
	if err := c.Get(ctx, recordsPath(collection), opts.query(), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetRecord returns one record.
func (c *Client) GetRecord(ctx context.Context, collection, id string) (*Record, error) {
	var out Record
	if err := c.Get(ctx, recordsPath(collection)+"/"+url.PathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateRecord creates a record from data (any value that encodes as a
// JSON object) and returns it.
func (c *Client) CreateRecord(ctx context.Context, collection string, data any) (*Record, error) {
	var out Record
	if err := c.Post(ctx, recordsPath(collection), map[string]any{"data": data}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateRecord merges data into the record's top-level fields and returns
// the record.
func (c *Client) UpdateRecord(ctx context.Context, collection, id string, data any) (*Record, error) {
	var out Record
	path := recordsPath(collection) + "/" + url.PathEscape(id)
	if err := c.Patch(ctx, path, map[string]any{"data": data}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteRecord deletes a record.
func (c *Client) DeleteRecord(ctx context.Context, collection, id string) error {
	return c.Delete(ctx, recordsPath(collection)+"/"+url.PathEscape(id), nil)
}

// CallResult is the answer of a function call. A function that failed is
// not an error of CallFunction: check Status.
type CallResult struct {
	CallID       string          `json:"call_id"`
	Status       string          `json:"status"`
	Result       json.RawMessage `json:"result"`
	ErrorMessage *string         `json:"error_message"`
	ErrorType    *string         `json:"error_type"`
	DurationMS   int64           `json:"duration_ms"`
}

// CallFunction calls another function as the same caller; payload nil
// sends {}.
func (c *Client) CallFunction(ctx context.Context, name string, payload any) (*CallResult, error) {
	if payload == nil {
		payload = struct{}{}
	}
	var out CallResult
	if err := c.Post(ctx, "functions/"+url.PathEscape(name), payload, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
