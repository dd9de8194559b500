// Package schedule is the timing domain of TinyBase schedules: parsing and
// validating schedule specifications (once, interval, cron, each in an IANA
// time zone), and computing fire instants, including across daylight-saving
// changes. It is pure computation: no storage, no bus, no clock of its own.
package schedule

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	// Time zone data is compiled in, so hosts without a zoneinfo database
	// resolve every IANA name the same way.
	_ "time/tzdata"
)

// Schedule methods, the "method" key of a schedule object.
const (
	MethodOnce     = "once"
	MethodInterval = "interval"
	MethodCron     = "cron"
)

// DefaultTimezone is used when a schedule names no time zone.
//
// TODO(settings): use the instance's server_timezone setting, resolved when
// the schedule is saved, once runtime settings exist.
const DefaultTimezone = "UTC"

// Precision is the resolution of every fire instant: the storage format
// keeps microseconds.
const Precision = time.Microsecond

// maxInterval bounds interval schedules so that instants stay far from the
// limits of time.Duration.
const maxInterval = 100 * 365 * 24 * time.Hour

// Spec is a parsed, valid schedule specification.
type Spec struct {
	// Method is MethodOnce, MethodInterval or MethodCron.
	Method string
	// Timezone is the IANA name the schedule is evaluated in.
	Timezone string
	// Location is Timezone loaded.
	Location *time.Location

	// Every is the elapsed time between interval fires.
	Every time.Duration
	// Cron is the parsed expression of a cron schedule.
	Cron *Cron
	// wall is the local date and time of a once schedule, as a UTC time
	// whose fields are the wall-clock fields.
	wall time.Time
}

var allowedKeys = map[string][]string{
	MethodOnce:     {"method", "timezone", "date", "run_date", "time", "run_time"},
	MethodInterval: {"method", "timezone", "unit", "value"},
	MethodCron:     {"method", "timezone", "cron", "description"},
}

var units = map[string]time.Duration{
	"seconds": time.Second,
	"minutes": time.Minute,
	"hours":   time.Hour,
	"days":    24 * time.Hour,
}

// Parse validates a schedule object as the API receives it and returns the
// parsed specification. Every problem is a *SpecError (matching
// ErrInvalid): unknown method or keys, a missing key, a bad cron
// expression, an unknown time zone, a non-positive interval. Whether a
// once schedule lies in the past depends on the clock; see Spec.Next.
func Parse(raw []byte) (*Spec, error) {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, invalid("schedule", "schedule must be a JSON object")
	}
	method, ok := stringKey(m, "method")
	if !ok {
		shown := "None"
		if v, present := m["method"]; present && string(v) != "null" {
			shown = string(v)
		}
		return nil, invalid("method", "Unknown schedule method: "+shown)
	}
	allowed, known := allowedKeys[method]
	if !known {
		return nil, invalid("method", "Unknown schedule method: "+method)
	}
	var extra []string
	for k := range m {
		if !contains(allowed, k) {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return nil, invalid(extra[0], fmt.Sprintf("unknown key '%s' for method '%s' (allowed: %s)",
			extra[0], method, strings.Join(allowed, ", ")))
	}
	s := &Spec{Method: method}
	if err := s.parseTimezone(m); err != nil {
		return nil, err
	}
	var err error
	switch method {
	case MethodOnce:
		err = s.parseOnce(m)
	case MethodInterval:
		err = s.parseInterval(m)
	case MethodCron:
		err = s.parseCron(m)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// LoadZone loads an IANA time zone name, refusing the names that depend on
// the host ("Local", "") and anything else LoadLocation rejects.
func LoadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" || strings.HasPrefix(name, "/") {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return loc, nil
}

func (s *Spec) parseTimezone(m map[string]json.RawMessage) error {
	raw, present := m["timezone"]
	if !present || string(raw) == "null" {
		s.Timezone = DefaultTimezone
		s.Location = time.UTC
		return nil
	}
	name, ok := stringKey(m, "timezone")
	if !ok {
		return invalid("timezone", "timezone must be a string naming an IANA time zone, such as Europe/Berlin")
	}
	loc, err := LoadZone(name)
	if err != nil {
		return invalid("timezone", fmt.Sprintf("unknown time zone '%s': use an IANA name such as Europe/Berlin", name))
	}
	s.Timezone, s.Location = name, loc
	return nil
}

func (s *Spec) parseOnce(m map[string]json.RawMessage) error {
	date, err := aliased(m, "date", "run_date")
	if err != nil {
		return err
	}
	clock, err := aliased(m, "time", "run_time")
	if err != nil {
		return err
	}
	d, err := time.Parse("2006-01-02", date)
	if err != nil {
		return invalid("date", fmt.Sprintf("date '%s' is not a valid YYYY-MM-DD date", date))
	}
	var c time.Time
	for _, layout := range []string{"15:04", "15:04:05", "15:04:05.999999999"} {
		if c, err = time.Parse(layout, clock); err == nil {
			break
		}
	}
	if err != nil {
		return invalid("time", fmt.Sprintf("time '%s' is not a valid HH:MM[:SS[.ffffff]] time", clock))
	}
	s.wall = time.Date(d.Year(), d.Month(), d.Day(), c.Hour(), c.Minute(), c.Second(), c.Nanosecond(),
		time.UTC).Truncate(Precision)
	return nil
}

func (s *Spec) parseInterval(m map[string]json.RawMessage) error {
	unit, ok := stringKey(m, "unit")
	if !ok {
		if _, present := m["unit"]; !present {
			return invalid("unit", "interval schedules need 'unit' (seconds, minutes, hours or days)")
		}
		return invalid("unit", "unit must be one of seconds, minutes, hours, days")
	}
	per, known := units[unit]
	if !known {
		return invalid("unit", fmt.Sprintf("unit '%s' is not one of seconds, minutes, hours, days", unit))
	}
	raw, present := m["value"]
	if !present || string(raw) == "null" {
		return invalid("value", "interval schedules need 'value', a whole number greater than 0")
	}
	var num json.Number
	if c := raw[0]; (c < '0' || c > '9') && c != '-' {
		return invalid("value", "value must be a whole number greater than 0")
	}
	if err := json.Unmarshal(raw, &num); err != nil {
		return invalid("value", "value must be a whole number greater than 0")
	}
	n, err := num.Int64()
	if err != nil {
		f, ferr := num.Float64()
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return invalid("value", fmt.Sprintf("value %s is not a whole number", num))
		}
		n = int64(f)
	}
	if n <= 0 {
		return invalid("value", fmt.Sprintf("value must be greater than 0, got %d", n))
	}
	if n > int64(maxInterval/per) {
		return invalid("value", fmt.Sprintf("value %d %s is longer than 100 years", n, unit))
	}
	s.Every = time.Duration(n) * per
	return nil
}

func (s *Spec) parseCron(m map[string]json.RawMessage) error {
	expr, ok := stringKey(m, "cron")
	if !ok {
		return invalid("cron", "cron schedules need 'cron', a five-field cron expression such as \"0 2 * * *\"")
	}
	if raw, present := m["description"]; present && string(raw) != "null" {
		if _, ok := stringKey(m, "description"); !ok {
			return invalid("description", "description must be a string")
		}
	}
	c, err := ParseCron(expr)
	if err != nil {
		return invalid("cron", err.Error())
	}
	s.Cron = c
	return nil
}

func aliased(m map[string]json.RawMessage, key, alias string) (string, error) {
	if v, ok := stringKey(m, key); ok {
		return v, nil
	}
	if v, ok := stringKey(m, alias); ok {
		return v, nil
	}
	return "", invalid(key, fmt.Sprintf("once schedules need '%s' as a string", key))
}

func stringKey(m map[string]json.RawMessage, key string) (string, bool) {
	raw, ok := m[key]
	if !ok {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
