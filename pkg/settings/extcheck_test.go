package settings

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"github.com/tinybase/tinybase/pkg/store"
)

func TestCheckExtRefusesAndSavesNothing(t *testing.T) {
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := NewService(db, Defaults{FunctionTimeoutSeconds: 60, MaxConcurrentFunctionsPerUser: 5})
	var checked []string
	s.CheckExt(func(key string, v json.RawMessage) error {
		checked = append(checked, key+"="+string(v))
		if key == "ext.demo.n" && string(v) != "1" {
			return errors.New("must be 1")
		}
		return nil
	})
	ctx := context.Background()
	_, _, err = s.Update(ctx, map[string]json.RawMessage{"ext.demo.n": json.RawMessage(`2`),
		"core.instance_name": json.RawMessage(`"X"`)})
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Key != "ext.demo.n" {
		t.Fatalf("update with a refused ext value: %v", err)
	}
	if s.Current().String(InstanceName) != "TinyBase" {
		t.Fatal("a refused change saved another key")
	}
	if _, _, err := s.Update(ctx, map[string]json.RawMessage{"ext.demo.n": json.RawMessage(`1`)}); err != nil {
		t.Fatal(err)
	}
	// null deletes without asking the checker; core keys never reach it.
	if _, _, err := s.Update(ctx, map[string]json.RawMessage{"ext.demo.n": json.RawMessage(`null`),
		"core.instance_name": json.RawMessage(`"Y"`)}); err != nil {
		t.Fatal(err)
	}
	if len(checked) != 2 || checked[0] != "ext.demo.n=2" || checked[1] != "ext.demo.n=1" {
		t.Fatalf("checker saw %v", checked)
	}
}
