package schedule

import (
	"strconv"
	"time"

	"github.com/google/uuid"
)

// callNamespace scopes the call ids derived from fires.
var callNamespace = uuid.MustParse("5b0c7f5e-3d1a-4c1e-9a57-6f1f1d0c2a11")

// FireID names one fire of a schedule: "<schedule id>@<due, Unix µs>". It
// is the bus message id of the fire, so a retried publish is stored once.
func FireID(scheduleID string, due time.Time) string {
	return scheduleID + "@" + strconv.FormatInt(due.UnixMicro(), 10)
}

// CallID is the id of the call a fire runs: a name-based UUID of the fire,
// the same however often the fire is delivered, so it can never run twice.
func CallID(scheduleID string, due time.Time) string {
	return uuid.NewSHA1(callNamespace, []byte(FireID(scheduleID, due))).String()
}
