package sdk

import "syscall"

// noDump marks the function process non-dumpable, so other processes of
// the same user (other functions) cannot read its memory, where call
// tokens live.
func noDump() {
	const prSetDumpable = 4
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetDumpable, 0, 0)
}
