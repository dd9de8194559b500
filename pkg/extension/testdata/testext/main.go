// Command testext is an extension whose behaviour the tests steer through
// the record data they send: "mode" picks sleep, crash, upper, refuse,
// error or panic.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tinybase/tinybase/pkg/sdk/extension"
)

func main() {
	var afterCreates atomic.Int64
	ext := extension.New("testext", "0.1.0")
	ext.Setting("limit", map[string]any{"type": "integer", "minimum": 1}, 5, "a number")
	ext.BeforeCreate(func(ctx context.Context, ev *extension.RecordEvent) error {
		switch ev.Data["mode"] {
		case "sleep":
			ms, _ := ev.Data["ms"].(float64)
			time.Sleep(time.Duration(ms) * time.Millisecond)
		case "crash":
			os.Exit(3)
		case "upper":
			s, _ := ev.Data["title"].(string)
			ev.Set("title", strings.ToUpper(s))
		case "refuse":
			return extension.Refuse(422, "testext says no")
		case "error":
			return errors.New("boom")
		case "panic":
			panic("testext hook panics")
		}
		return nil
	}, "notes")
	ext.AfterCreate(func(ctx context.Context, ev *extension.RecordEvent) error {
		afterCreates.Add(1)
		return nil
	})
	var logins, starts atomic.Int64
	ext.On(extension.HookUserLogin, func(context.Context, *extension.Event) error {
		logins.Add(1)
		return nil
	})
	ext.On(extension.HookAPIStarted, func(context.Context, *extension.Event) error {
		starts.Add(1)
		return nil
	})
	ext.Route("GET", "/count", "admin", func(ctx context.Context, r *extension.Request) (*extension.Response, error) {
		return extension.JSON(200, map[string]any{"after_creates": afterCreates.Load(), "caller": r.Caller.UserID,
			"logins": logins.Load(), "api_starts": starts.Load()}), nil
	})
	ext.Route("GET", "/settings/*", "public", func(ctx context.Context, r *extension.Request) (*extension.Response,
		error) {
		s, err := ext.Host().Settings(ctx)
		if err != nil {
			return nil, err
		}
		return extension.JSON(200, s), nil
	})
	ext.Route("POST", "/stderr", "public", func(ctx context.Context, r *extension.Request) (*extension.Response,
		error) {
		fmt.Fprintf(os.Stderr, "%s\n", r.Body)
		return nil, nil
	})
	ext.Route("POST", "/call/*", "admin", func(ctx context.Context, r *extension.Request) (*extension.Response,
		error) {
		res, err := ext.Host().CallFunction(ctx, r.Path[len("/call/"):], map[string]any{"name": "extension"})
		if err != nil {
			return nil, err
		}
		return extension.JSON(200, res), nil
	})
	ext.Route("POST", "/records/*", "admin", func(ctx context.Context, r *extension.Request) (*extension.Response,
		error) {
		rec, err := ext.Host().CreateRecord(ctx, r.Path[len("/records/"):], "", map[string]any{"title": string(r.Body)})
		if err != nil {
			return nil, err
		}
		if err := ext.Host().LogActivity(ctx, "record_made", "made one", map[string]any{"id": rec.ID}); err != nil {
			return nil, err
		}
		got, err := ext.Host().GetRecord(ctx, rec.Collection, rec.ID)
		if err != nil {
			return nil, err
		}
		return extension.JSON(200, got), nil
	})
	ext.Route("GET", "/hello", "public", func(ctx context.Context, r *extension.Request) (*extension.Response,
		error) {
		resp := extension.JSON(200, map[string]string{"method": r.Method})
		resp.Headers["x-testext"] = "yes"
		return resp, nil
	})
	ext.Route("GET", "/slow", "public", func(ctx context.Context, r *extension.Request) (*extension.Response,
		error) {
		time.Sleep(2 * time.Second)
		return nil, nil
	})
	ext.Route("GET", "/big", "public", func(ctx context.Context, r *extension.Request) (*extension.Response,
		error) {
		return &extension.Response{Status: 200, Body: make([]byte, 33<<20)}, nil
	})
	ext.Route("GET", "/panic", "public", func(ctx context.Context, r *extension.Request) (*extension.Response,
		error) {
		panic("testext route panics")
	})
	ext.Route("GET", "/fail", "public", func(ctx context.Context, r *extension.Request) (*extension.Response,
		error) {
		return nil, errors.New("secret internal detail")
	})
	ext.Route("POST", "/env", "public", func(ctx context.Context, r *extension.Request) (*extension.Response, error) {
		return extension.JSON(200, map[string]any{"env": os.Environ()}), nil
	})
	ext.Serve()
}
