// Command wordfilter is an example TinyBase extension. It refuses (400)
// any new or changed record whose string fields contain a word listed in
// the setting ext.wordfilter.words (default ["forbidden"]), and lists the
// words at GET /api/ext/wordfilter/words.
//
// Install it into a running instance with
//
//	tinybase extensions install examples/extensions/wordfilter
package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/tinybase/tinybase/pkg/sdk/extension"
)

var defaultWords = []string{"forbidden"}

func main() {
	ext := extension.New("wordfilter", "1.0.0")
	ext.Description = "Refuses records that contain forbidden words."
	ext.Author = "TinyBase"
	ext.Setting("words", map[string]any{
		"type": "array", "items": map[string]any{"type": "string", "minLength": 1}, "maxItems": 1000,
	}, defaultWords, "Words a record's string fields must not contain (case-insensitive).")

	check := func(ctx context.Context, ev *extension.RecordEvent) error {
		words, err := wordsOf(ctx, ext)
		if err != nil {
			return err
		}
		if w, field := findWord(ev.Data, words); w != "" {
			return extension.Refuse(400, fmt.Sprintf("Field '%s' contains the forbidden word '%s'", field, w))
		}
		return nil
	}
	ext.BeforeCreate(check)
	ext.BeforeUpdate(check)

	ext.Route("GET", "/words", "public", func(ctx context.Context, _ *extension.Request) (*extension.Response, error) {
		words, err := wordsOf(ctx, ext)
		if err != nil {
			return nil, err
		}
		return extension.JSON(200, map[string]any{"words": words}), nil
	})
	ext.Serve()
}

// wordsOf reads the setting (cached by the SDK until it changes).
func wordsOf(ctx context.Context, ext *extension.Extension) ([]string, error) {
	words := defaultWords
	if err := ext.Host().Setting(ctx, "words", &words); err != nil {
		return nil, err
	}
	return words, nil
}

// findWord returns the first listed word found in a string value of data
// (nested objects and arrays included) and the field it was found in.
func findWord(data map[string]any, words []string) (word, field string) {
	for k, v := range data {
		if w := findIn(v, words); w != "" {
			return w, k
		}
	}
	return "", ""
}

func findIn(v any, words []string) string {
	switch x := v.(type) {
	case string:
		low := strings.ToLower(x)
		for _, w := range words {
			if w != "" && strings.Contains(low, strings.ToLower(w)) {
				return w
			}
		}
	case []any:
		for _, e := range x {
			if w := findIn(e, words); w != "" {
				return w
			}
		}
	case map[string]any:
		for _, e := range x {
			if w := findIn(e, words); w != "" {
				return w
			}
		}
	}
	return ""
}
