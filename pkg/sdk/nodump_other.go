//go:build !linux

package sdk

// noDump does nothing where the platform has no equivalent.
func noDump() {}
