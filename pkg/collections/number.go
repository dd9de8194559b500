package collections

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Integers never pass through float64: a JSON literal is split into its
// decimal digits and a power of ten, so 9007199254740993 stays exact and
// 5.0 or 5e0 are recognised as the integer 5 without rounding.

// numResult classifies a literal for integer conversion.
type numResult int

const (
	numOK numResult = iota
	numNotNumber
	numNotInteger
	numOutOfRange
)

// maxExp caps parsed exponents so that absurd ones ("1e999999999999")
// cannot overflow; no request body is long enough for the cap to matter.
const maxExp = 1 << 40

// numLiteral is a syntactically valid JSON number: value = ±digits × 10^exp.
type numLiteral struct {
	neg    bool
	digits string // no leading zeros; empty means zero
	exp    int64
}

// parseNumLiteral parses s with the JSON number grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func parseNumLiteral(s string) (numLiteral, bool) {
	var n numLiteral
	i := 0
	if i < len(s) && s[i] == '-' {
		n.neg = true
		i++
	}
	start := i
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return n, false
	}
	intPart := s[start:i]
	var frac string
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == fs {
			return n, false
		}
		frac = s[fs:i]
	}
	var exp int64
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		es := i
		for i < len(s) && isDigit(s[i]) {
			if exp < maxExp {
				exp = exp*10 + int64(s[i]-'0')
			}
			i++
		}
		if i == es {
			return n, false
		}
		exp = min(exp, maxExp)
		if eneg {
			exp = -exp
		}
	}
	if i != len(s) {
		return n, false
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	exp -= int64(len(frac))
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
		exp++
	}
	n.digits = digits
	if digits == "" {
		n.exp = 0
	} else {
		n.exp = exp
	}
	return n, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// int64 returns the literal's exact integer value.
func (n numLiteral) int64() (int64, numResult) {
	if n.digits == "" {
		return 0, numOK
	}
	if n.exp < 0 {
		return 0, numNotInteger
	}
	if int64(len(n.digits))+n.exp > 19 {
		return 0, numOutOfRange
	}
	u, err := strconv.ParseUint(n.digits+strings.Repeat("0", int(n.exp)), 10, 64)
	if err != nil {
		return 0, numOutOfRange
	}
	switch {
	case n.neg && u == 1<<63:
		return math.MinInt64, numOK
	case u > math.MaxInt64:
		return 0, numOutOfRange
	case n.neg:
		return -int64(u), numOK
	default:
		return int64(u), numOK
	}
}

// parseInt converts a JSON number literal to an exact int64.
func parseInt(s string) (int64, numResult) {
	n, ok := parseNumLiteral(s)
	if !ok {
		return 0, numNotNumber
	}
	return n.int64()
}

// parseFloat converts a JSON number literal to a finite float64.
func parseFloat(s string) (float64, numResult) {
	if _, ok := parseNumLiteral(s); !ok {
		return 0, numNotNumber
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, numOutOfRange
	}
	return f, numOK
}

// cmpIntFloat compares an integer with a bound exactly: -1, 0 or +1 as i is
// less than, equal to or greater than f.
func cmpIntFloat(i int64, f float64) int {
	return new(big.Float).SetInt64(i).Cmp(big.NewFloat(f))
}
