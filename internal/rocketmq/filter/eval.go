package filter

import (
	"cmp"
	"strconv"
	"strings"
)

// tri is a three-valued logic result: a comparison with a missing property
// is unknown, and only truth matches.
type tri int8

const (
	unknown tri = iota
	falsity
	truth
)

func triOf(b bool) tri {
	if b {
		return truth
	}
	return falsity
}

type kind int8

const (
	kNull kind = iota
	kString
	kInt
	kFloat
	kBool
)

// value is what an operand evaluates to. Properties are strings.
type value struct {
	k kind
	s string
	i int64 // kInt, and kBool as 0 or 1
	f float64
}

// node is an evaluable part of an expression; conditions evaluate to a
// kBool value or kNull (unknown).
type node interface {
	eval(p Properties) value
}

// condition is a node whose static type is boolean.
type condition interface {
	node
	test(p Properties) tri
}

func testOf(v value) tri {
	if v.k != kBool {
		return unknown
	}
	return triOf(v.i != 0)
}

func boolValue(t tri) value {
	switch t {
	case truth:
		return value{k: kBool, i: 1}
	case falsity:
		return value{k: kBool}
	}
	return value{}
}

type literal struct{ v value }

func (l literal) eval(Properties) value { return l.v }
func (l literal) test(p Properties) tri { return testOf(l.v) }
func stringLit(s string) literal        { return literal{value{k: kString, s: s}} }
func intLit(i int64) literal            { return literal{value{k: kInt, i: i}} }
func floatLit(f float64) literal        { return literal{value{k: kFloat, f: f}} }
func boolLit(b bool) literal            { return literal{boolValue(triOf(b))} }
func (l literal) negate() (literal, bool) {
	switch l.v.k {
	case kInt:
		return intLit(-l.v.i), true
	case kFloat:
		return floatLit(-l.v.f), true
	}
	return l, false
}

type property struct{ name string }

func (pr property) eval(p Properties) value {
	s, ok := p.Property(pr.name)
	if !ok {
		return value{}
	}
	return value{k: kString, s: s}
}

type and struct{ l, r condition }

func (a and) eval(p Properties) value { return boolValue(a.test(p)) }
func (a and) test(p Properties) tri {
	l := a.l.test(p)
	if l == falsity {
		return falsity
	}
	r := a.r.test(p)
	if r == falsity {
		return falsity
	}
	if l == unknown || r == unknown {
		return unknown
	}
	return truth
}

type or struct{ l, r condition }

func (o or) eval(p Properties) value { return boolValue(o.test(p)) }
func (o or) test(p Properties) tri {
	l := o.l.test(p)
	if l == truth {
		return truth
	}
	r := o.r.test(p)
	if r == truth {
		return truth
	}
	if l == unknown || r == unknown {
		return unknown
	}
	return falsity
}

type not struct{ c condition }

func (n not) eval(p Properties) value { return boolValue(n.test(p)) }
func (n not) test(p Properties) tri {
	switch n.c.test(p) {
	case truth:
		return falsity
	case falsity:
		return truth
	}
	return unknown
}

// compareOp is one of = < <= > >= (<> is not(=)).
type compareOp int8

const (
	opEq compareOp = iota
	opLt
	opLe
	opGt
	opGe
)

type comparison struct {
	op   compareOp
	l, r node
}

func (c comparison) eval(p Properties) value { return boolValue(c.test(p)) }
func (c comparison) test(p Properties) tri {
	l, r := c.l.eval(p), c.r.eval(p)
	if l.k == kNull || r.k == kNull {
		return unknown
	}
	order, comparable, known := compareValues(l, r)
	if !known {
		return unknown
	}
	if !comparable {
		return falsity
	}
	switch c.op {
	case opEq:
		return triOf(order == 0)
	case opLt:
		return triOf(order < 0)
	case opLe:
		return triOf(order <= 0)
	case opGt:
		return triOf(order > 0)
	default:
		return triOf(order >= 0)
	}
}

// compareValues orders two non-null values. A string meeting a number is
// parsed as a number, one meeting a boolean as a boolean ("true" in any
// case is true). comparable is false for types that cannot meet (a number
// and a boolean); known is false when a string is no number.
func compareValues(l, r value) (order int, comparable, known bool) {
	if l.k == kString && r.k != kString {
		var ok bool
		if l, ok = convertString(l.s, r.k); !ok {
			return 0, true, false
		}
	} else if r.k == kString && l.k != kString {
		var ok bool
		if r, ok = convertString(r.s, l.k); !ok {
			return 0, true, false
		}
	}
	switch {
	case l.k == r.k:
		switch l.k {
		case kString:
			return strings.Compare(l.s, r.s), true, true
		case kFloat:
			return cmp.Compare(l.f, r.f), true, true
		default: // kInt, kBool
			return cmp.Compare(l.i, r.i), true, true
		}
	case l.k == kInt && r.k == kFloat:
		return cmp.Compare(float64(l.i), r.f), true, true
	case l.k == kFloat && r.k == kInt:
		return cmp.Compare(l.f, float64(r.i)), true, true
	}
	return 0, false, true
}

// convertString reads s as a value of kind k (a number kind may come back
// as the other number kind: "1.5" meeting an integer is a float).
func convertString(s string, k kind) (value, bool) {
	switch k {
	case kBool:
		return boolValue(triOf(strings.EqualFold(s, "true"))), true
	case kInt, kFloat:
		s = strings.TrimSpace(s)
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return value{k: kInt, i: i}, true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return value{k: kFloat, f: f}, true
		}
	}
	return value{}, false
}

type isNull struct {
	n      node
	negate bool
}

func (c isNull) eval(p Properties) value { return boolValue(c.test(p)) }
func (c isNull) test(p Properties) tri {
	return triOf((c.n.eval(p).k == kNull) != c.negate)
}

// inList is property [NOT] IN ('a', 'b').
type inList struct {
	prop   property
	items  []string
	negate bool
}

func (c inList) eval(p Properties) value { return boolValue(c.test(p)) }
func (c inList) test(p Properties) tri {
	v, ok := p.Property(c.prop.name)
	if !ok {
		return unknown
	}
	return triOf(containsString(c.items, v) != c.negate)
}

type stringOp int8

const (
	opContains stringOp = iota
	opStartsWith
	opEndsWith
)

// stringMatch is [NOT] CONTAINS / STARTSWITH / ENDSWITH. As in RocketMQ
// an empty search string, a missing property or a non-string never match,
// with or without NOT.
type stringMatch struct {
	op     stringOp
	n      node
	search string
	negate bool
}

func (c stringMatch) eval(p Properties) value { return boolValue(c.test(p)) }
func (c stringMatch) test(p Properties) tri {
	v := c.n.eval(p)
	if c.search == "" || v.k != kString {
		return falsity
	}
	var found bool
	switch c.op {
	case opContains:
		found = strings.Contains(v.s, c.search)
	case opStartsWith:
		found = strings.HasPrefix(v.s, c.search)
	default:
		found = strings.HasSuffix(v.s, c.search)
	}
	return triOf(found != c.negate)
}
