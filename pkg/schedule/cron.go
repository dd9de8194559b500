package schedule

import (
	"fmt"
	"strconv"
	"strings"
)

// Cron is a parsed five-field cron expression: minute, hour, day of month,
// month, day of week. Each field is a set of allowed values.
type Cron struct {
	// Expr is the expression as written (macros expanded are not shown).
	Expr string

	minute uint64 // bits 0..59
	hour   uint32 // bits 0..23
	dom    uint32 // bits 1..31
	month  uint16 // bits 1..12
	dow    uint8  // bits 0..6, Sunday = 0

	// domStar and dowStar record a day field that starts with '*'. As in
	// classic (Vixie) cron, the day matches when both day fields match if
	// either starts with '*', and when either matches otherwise.
	domStar, dowStar bool
	// hourRepeats is set when the hour field is '*' or stepped: such
	// expressions fire in both passes of a repeated (fall-back) hour;
	// expressions with fixed hours fire only in the first.
	hourRepeats bool
}

var macros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

type fieldSpec struct {
	name   string
	lo, hi int
	names  map[string]int
}

var fields = [5]fieldSpec{
	{name: "minute", lo: 0, hi: 59},
	{name: "hour", lo: 0, hi: 23},
	{name: "day-of-month", lo: 1, hi: 31},
	{name: "month", lo: 1, hi: 12, names: map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5,
		"jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}},
	// 7 is accepted as a second Sunday and folded onto 0.
	{name: "day-of-week", lo: 0, hi: 7, names: map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3,
		"thu": 4, "fri": 5, "sat": 6}},
}

// ParseCron parses a five-field cron expression or one of the macros
// @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly.
// Fields accept numbers, names (JAN–DEC, SUN–SAT, any case), '*',
// ranges a-b, lists a,b and steps */n, a-b/n and a/n. The error says what
// is wrong and where.
func ParseCron(expr string) (*Cron, error) {
	text := strings.TrimSpace(expr)
	if strings.HasPrefix(text, "@") {
		exp, ok := macros[strings.ToLower(text)]
		if !ok {
			return nil, fmt.Errorf("unknown cron macro '%s' (use @yearly, @annually, @monthly, @weekly, "+
				"@daily, @midnight or @hourly)", text)
		}
		text = exp
	}
	parts := strings.Fields(text)
	if len(parts) != 5 {
		return nil, fmt.Errorf("cron expression '%s' must have five fields "+
			"(minute hour day-of-month month day-of-week), got %d",
			expr, len(parts))
	}
	c := &Cron{Expr: expr}
	var sets [5]uint64
	for i, p := range parts {
		set, err := parseField(p, fields[i])
		if err != nil {
			return nil, fmt.Errorf("cron expression '%s': %w", expr, err)
		}
		sets[i] = set
	}
	if sets[4]&(1<<7) != 0 {
		sets[4] = sets[4]&^(1<<7) | 1
	}
	c.minute, c.hour, c.dom = sets[0], uint32(sets[1]), uint32(sets[2])
	c.month, c.dow = uint16(sets[3]), uint8(sets[4])
	c.domStar = strings.HasPrefix(parts[2], "*")
	c.dowStar = strings.HasPrefix(parts[4], "*")
	c.hourRepeats = strings.HasPrefix(parts[1], "*") || strings.Contains(parts[1], "/")
	if !c.possible() {
		return nil, fmt.Errorf("cron expression '%s' never fires: no month has those days", expr)
	}
	return c, nil
}

func parseField(text string, f fieldSpec) (uint64, error) {
	var set uint64
	for _, item := range strings.Split(text, ",") {
		if item == "" {
			return 0, fmt.Errorf("%s field '%s' has an empty list item", f.name, text)
		}
		rng, stepText, stepped := strings.Cut(item, "/")
		step := 1
		if stepped {
			n, err := strconv.Atoi(stepText)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("%s field '%s': step '%s' must be a whole number greater than 0",
					f.name, text, stepText)
			}
			step = n
		}
		lo, hi := f.lo, f.hi
		switch {
		case rng == "*":
			if f.name == "day-of-week" {
				hi = 6
			}
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if lo, err = value(a, f); err != nil {
				return 0, err
			}
			if hi, err = value(b, f); err != nil {
				return 0, err
			}
			if lo > hi {
				return 0, fmt.Errorf("%s field '%s': range %s runs backwards", f.name, text, rng)
			}
		default:
			v, err := value(rng, f)
			if err != nil {
				return 0, err
			}
			lo = v
			if !stepped {
				hi = v
			} else if f.name == "day-of-week" {
				hi = 6
			}
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << v
		}
	}
	return set, nil
}

func value(text string, f fieldSpec) (int, error) {
	if v, ok := f.names[strings.ToLower(text)]; ok {
		return v, nil
	}
	n, err := strconv.Atoi(text)
	if err != nil {
		if f.names != nil {
			return 0, fmt.Errorf("%s field: '%s' is neither a number nor a known name", f.name, text)
		}
		return 0, fmt.Errorf("%s field: '%s' is not a number", f.name, text)
	}
	if n < f.lo || n > f.hi {
		return 0, fmt.Errorf("%s field: value %d is out of range %d-%d", f.name, n, f.lo, f.hi)
	}
	return n, nil
}

// daysIn is the most days each month can have (February in leap years).
var daysIn = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// possible reports whether some calendar day matches the day fields. Only
// an expression restricted to days of the month that its months lack (say
// 30 February) never fires; a day-of-week restriction always matches some
// day.
func (c *Cron) possible() bool {
	if !c.domStar && !c.dowStar {
		return true // either field may match, and every weekday occurs in every month
	}
	if c.dow == 0 {
		return false
	}
	for m := 1; m <= 12; m++ {
		if c.month&(1<<m) == 0 {
			continue
		}
		for d := 1; d <= daysIn[m]; d++ {
			if c.dom&(1<<d) != 0 {
				return true
			}
		}
	}
	return false
}

// matchDay reports whether the calendar day matches month and day fields.
func (c *Cron) matchDay(month, day, weekday int) bool {
	if c.month&(1<<month) == 0 {
		return false
	}
	domOK := c.dom&(1<<day) != 0
	dowOK := c.dow&(1<<weekday) != 0
	if c.domStar || c.dowStar {
		return domOK && dowOK
	}
	return domOK || dowOK
}

func (c *Cron) matchHour(h int) bool   { return c.hour&(1<<h) != 0 }
func (c *Cron) matchMinute(m int) bool { return c.minute&(1<<m) != 0 }
