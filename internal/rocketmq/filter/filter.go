package filter

import (
	"errors"
	"fmt"
	"strings"
)

// Expression types, as RocketMQ clients name them.
const (
	TypeTag   = "TAG"
	TypeSQL92 = "SQL92"
)

// Limits on what one subscription expression may cost to compile.
const (
	MaxExpressionBytes = 64 << 10
	MaxDepth           = 64
)

// TagsProperty is the message property holding a message's tag.
const TagsProperty = "TAGS"

// ErrInvalid marks an expression that does not compile: a syntax error, a
// type error, an unknown expression type or one over the limits.
var ErrInvalid = errors.New("invalid subscription expression")

// Properties gives a message's properties by name; ok is false when the
// message has no such property.
type Properties interface {
	Property(name string) (value string, ok bool)
}

// Filter is a compiled subscription. It is immutable and safe for
// concurrent use.
type Filter struct {
	all  bool
	tags []string  // TAG filter: the accepted tags
	cond condition // SQL92 filter
	src  string
}

// Compile parses a subscription of the given expression type. Errors wrap
// ErrInvalid and say where and why.
func Compile(expressionType, expression string) (*Filter, error) {
	if len(expression) > MaxExpressionBytes {
		return nil, fmt.Errorf("%w: %d bytes, over the %d-byte limit", ErrInvalid, len(expression), MaxExpressionBytes)
	}
	switch strings.ToUpper(expressionType) {
	case "", TypeTag:
		return compileTags(expression), nil
	case TypeSQL92:
		c, err := parseSQL(expression)
		if err != nil {
			return nil, fmt.Errorf("%w: SQL92 %q: %v", ErrInvalid, expression, err)
		}
		return &Filter{cond: c, src: expression}, nil
	default:
		return nil, fmt.Errorf("%w: unknown expression type %q (want TAG or SQL92)", ErrInvalid, expressionType)
	}
}

// compileTags parses "*", "" or "A || B || C".
func compileTags(expression string) *Filter {
	f := &Filter{src: expression}
	if s := strings.TrimSpace(expression); s == "" || s == "*" {
		f.all = true
		return f
	}
	for _, t := range strings.Split(expression, "||") {
		t = strings.TrimSpace(t)
		if t != "" && !containsString(f.tags, t) {
			f.tags = append(f.tags, t)
		}
	}
	if len(f.tags) == 0 {
		f.all = true // only separators: RocketMQ's client treats it as no tag set
	}
	return f
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// MatchesAll reports whether the filter accepts every message, so the
// caller can skip evaluating it.
func (f *Filter) MatchesAll() bool { return f == nil || f.all }

// IsTagFilter reports whether the filter looks at the TAGS property alone.
func (f *Filter) IsTagFilter() bool { return f == nil || f.cond == nil }

// MatchTag is Match for a tag filter given the message's TAGS value alone
// (present false when it has none), without building a Properties. It
// does not allocate.
func (f *Filter) MatchTag(tag []byte, present bool) bool {
	if f.MatchesAll() {
		return true
	}
	if f.cond != nil {
		return false // an SQL92 filter needs Match
	}
	if !present {
		return false
	}
	for _, t := range f.tags {
		if string(tag) == t {
			return true
		}
	}
	return false
}

// Match reports whether a message with these properties matches.
func (f *Filter) Match(p Properties) bool {
	if f.MatchesAll() {
		return true
	}
	if f.cond == nil {
		tag, ok := p.Property(TagsProperty)
		if !ok {
			return false
		}
		return containsString(f.tags, tag)
	}
	return f.cond.test(p) == truth
}

// String returns the expression the filter was compiled from.
func (f *Filter) String() string {
	if f == nil {
		return "*"
	}
	return f.src
}

// MapProperties adapts a map to Properties (for tests and callers that
// already hold a map).
type MapProperties map[string]string

// Property implements Properties.
func (m MapProperties) Property(name string) (string, bool) {
	v, ok := m[name]
	return v, ok
}
