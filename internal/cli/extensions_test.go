package cli

import (
	"strings"
	"testing"
)

func TestExtensionEnableOutcome(t *testing.T) {
	var in extensionInfo
	in.Name = "wordfilter"
	in.Status.State = "refused"
	in.Status.LastError = "extension binary changed since install (sha256 mismatch): expected a, found b"
	err := enableOutcome(in, true)
	if err == nil || !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), "sha256 mismatch") {
		t.Fatalf("refused after enable: %v", err)
	}
	if err := enableOutcome(in, false); err != nil {
		t.Fatalf("disable: %v", err)
	}
	in.Status.State, in.Status.LastError = "running", ""
	if err := enableOutcome(in, true); err != nil {
		t.Fatalf("running: %v", err)
	}
}
