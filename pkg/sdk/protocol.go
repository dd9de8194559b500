package sdk

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
)

// Call statuses of a response.
const (
	statusSucceeded = "succeeded"
	statusFailed    = "failed"
)

// Run serves the registered function according to the command line and
// returns when it is done; it exits the program with status 1 when nothing
// is registered and 2 on unknown arguments.
//
//   - `--metadata` prints the function's description as one JSON object;
//   - `--serve` prints {"ready":true,"protocol":1}, then answers one JSON
//     request line with one JSON response line until stdin is closed;
//   - no argument reads one request document from stdin and writes one
//     response document (the one-shot mode of the Python TinyBase).
//
// Before serving, Run takes the protocol streams for itself: os.Stdout is
// pointed at stderr and os.Stdin at an empty reader, so fmt.Println in a
// handler, or a child process given os.Stdout, cannot corrupt a protocol
// line. Write logs to stderr (the log and log/slog defaults do).
func Run() {
	noDump()
	protoIn, protoOut := os.Stdin, os.Stdout
	os.Stdout = os.Stderr
	if null, err := os.Open(os.DevNull); err == nil {
		os.Stdin = null
	}
	if code := run(os.Args[1:], protoIn, protoOut, os.Stderr); code != 0 {
		os.Exit(code)
	}
}

// run is Run on explicit streams; it returns the exit status.
func run(args []string, in io.Reader, out, errOut io.Writer) int {
	fn := current
	if fn == nil {
		fatal(errOut, "No function registered: call sdk.Register before sdk.Run")
		return 1
	}
	switch {
	case len(args) == 0:
		if err := oneShot(fn, in, out, errOut); err != nil {
			fatal(errOut, err.Error())
			return 1
		}
	case len(args) == 1 && args[0] == "--metadata":
		line, err := json.Marshal(fn.metadata())
		if err != nil {
			fatal(errOut, fmt.Sprintf("Cannot describe function %q: %v", fn.fn.Name, err))
			return 1
		}
		if _, err := out.Write(append(line, '\n')); err != nil {
			return 1
		}
	case len(args) == 1 && args[0] == "--serve":
		if err := serve(fn, in, out, errOut); err != nil {
			fatal(errOut, err.Error())
			return 1
		}
	default:
		fmt.Fprintf(errOut, "usage: %s [--metadata | --serve]  (no argument: one request on stdin)\n",
			filepath.Base(os.Args[0]))
		return 2
	}
	return 0
}

// request is one call as the worker sends it.
type request struct {
	ID      json.RawMessage `json:"id"`
	Context CallInfo        `json:"context"`
	Payload json.RawMessage `json:"payload"`
}

// response is one answer. ID echoes the request's id (null when the
// request could not be read).
type response struct {
	ID        json.RawMessage `json:"id,omitempty"`
	Status    string          `json:"status"`
	Result    any             `json:"result,omitempty"`
	Error     string          `json:"error,omitempty"`
	ErrorType string          `json:"error_type,omitempty"`
}

// serve answers request lines from in until it reaches EOF.
func serve(fn *registered, in io.Reader, out, errOut io.Writer) error {
	if _, err := fmt.Fprintf(out, "{\"ready\":true,\"protocol\":%d}\n", ProtocolVersion); err != nil {
		return fmt.Errorf("write ready line: %w", err)
	}
	r := bufio.NewReaderSize(in, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var req request
			var resp response
			if jerr := json.Unmarshal(line, &req); jerr != nil {
				resp = failure(ErrorTypeJSONDecode, jerr.Error())
				resp.ID = json.RawMessage("null")
			} else {
				resp = execute(fn, req.Context, req.Payload, errOut)
				resp.ID = req.ID
				if len(resp.ID) == 0 {
					resp.ID = json.RawMessage("null")
				}
			}
			if werr := writeResponse(out, resp); werr != nil {
				return fmt.Errorf("write response: %w", werr)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read request: %w", err)
		}
	}
}

// oneShot handles the single request document of the one-shot mode.
func oneShot(fn *registered, in io.Reader, out, errOut io.Writer) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	var req request
	var resp response
	if len(bytes.TrimSpace(data)) == 0 {
		resp = execute(fn, CallInfo{}, nil, errOut)
	} else if jerr := json.Unmarshal(data, &req); jerr != nil {
		resp = failure(ErrorTypeJSONDecode, jerr.Error())
	} else {
		resp = execute(fn, req.Context, req.Payload, errOut)
	}
	return writeResponse(out, resp)
}

// execute runs the handler once. Errors and panics of the handler become
// failed responses; a panic's stack goes to errOut.
func execute(fn *registered, info CallInfo, payload json.RawMessage, errOut io.Writer) (resp response) {
	defer func() {
		if v := recover(); v != nil {
			fmt.Fprintf(errOut, "panic: %v\n\n%s\n", v, debug.Stack())
			resp = failure(ErrorTypePanic, fmt.Sprintf("panic: %v", v))
		}
	}()
	c := NewClient(info.APIBaseURL, info.AuthToken)
	c.info = info
	result, err := fn.invoke(context.Background(), c, payload)
	if err != nil {
		return failure(errorType(err), errorMessage(err))
	}
	data, err := json.Marshal(result)
	if err != nil {
		return failure(errorType(err), "Cannot encode the result as JSON: "+err.Error())
	}
	return response{Status: statusSucceeded, Result: json.RawMessage(data)}
}

func failure(errorType, message string) response {
	return response{Status: statusFailed, Error: message, ErrorType: errorType}
}

// writeResponse writes resp as one line in a single write, so a response is
// never split by the protocol stream's buffering.
func writeResponse(out io.Writer, resp response) error {
	line, err := json.Marshal(resp)
	if err != nil {
		return err
	}
	_, err = out.Write(append(line, '\n'))
	return err
}

// fatal reports an error that ends the program, as one JSON line on stderr.
func fatal(errOut io.Writer, msg string) {
	line, _ := json.Marshal(map[string]string{"error": msg})
	fmt.Fprintf(errOut, "%s\n", line)
}
