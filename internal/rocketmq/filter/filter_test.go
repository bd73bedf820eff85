package filter

import (
	"errors"
	"strings"
	"testing"
)

func TestTagFilter(t *testing.T) {
	tagged := func(tag string) Properties { return MapProperties{TagsProperty: tag} }
	cases := []struct {
		expr string
		msg  Properties
		want bool
	}{
		{"*", MapProperties{}, true},
		{"", MapProperties{}, true},
		{" * ", tagged("A"), true},
		{"A", tagged("A"), true},
		{"A", tagged("B"), false},
		{"A", MapProperties{}, false},
		{"A || B", tagged("B"), true},
		{"A||B", tagged("C"), false},
		{"A || B", tagged("A || B"), false},
		{"a", tagged("A"), false}, // tags are case-sensitive
		{"||", tagged("A"), true},
	}
	for _, c := range cases {
		f, err := Compile(TypeTag, c.expr)
		if err != nil {
			t.Fatalf("Compile(%q): %v", c.expr, err)
		}
		if got := f.Match(c.msg); got != c.want {
			t.Errorf("%q.Match(%v) = %v, want %v", c.expr, c.msg, got, c.want)
		}
		tag, ok := c.msg.Property(TagsProperty)
		if got := f.MatchTag([]byte(tag), ok); got != c.want {
			t.Errorf("%q.MatchTag(%q, %v) = %v, want %v", c.expr, tag, ok, got, c.want)
		}
	}
}

func TestMatchTagDoesNotAllocate(t *testing.T) {
	f, err := Compile("", "A || B || C")
	if err != nil {
		t.Fatal(err)
	}
	tag := []byte("C")
	if n := testing.AllocsPerRun(100, func() { f.MatchTag(tag, true) }); n != 0 {
		t.Fatalf("MatchTag allocates %v times", n)
	}
}

func TestSQL92(t *testing.T) {
	msg := MapProperties{
		"a": "10", "b": "abc", "f": "2.5", "flag": "TRUE", "TAGS": "TagA", "KEYS": "k1 k2",
		"neg": "-3", "word": "x'y", "empty": "",
	}
	cases := []struct {
		expr string
		want bool
	}{
		{"a = 10", true},
		{"a = '10'", true},
		{"a = 10.0", true},
		{"a <> 10", false},
		{"a > 5", true},
		{"a > 5 AND a < 11", true},
		{"a >= 10 AND a <= 10", true},
		{"a < 5 OR b = 'abc'", true},
		{"a BETWEEN 1 AND 10", true},
		{"a BETWEEN 11 AND 20", false},
		{"a NOT BETWEEN 11 AND 20", true},
		{"f > 2", true},
		{"f < 2.6", true},
		{"f = 2.5", true},
		{"neg < 0", true},
		{"neg = -3", true},
		{"neg = - -3", false},
		{"b IN ('x', 'abc')", true},
		{"b NOT IN ('x', 'abc')", false},
		{"b not in ('x')", true},
		{"TAGS IN ('TagA', 'TagB')", true},
		{"missing IS NULL", true},
		{"missing IS NOT NULL", false},
		{"b IS NOT NULL", true},
		{"empty IS NULL", false},
		{"missing = 1", false},
		{"NOT missing = 1", false}, // unknown stays unknown under NOT
		{"missing = 1 OR a = 10", true},
		{"missing = 1 AND a = 10", false},
		{"NOT (a = 10)", false},
		{"NOT a = 10", false}, // NOT binds looser than =
		{"NOT NOT a = 10", true},
		{"b = 10", false}, // "abc" is no number: unknown
		{"NOT (b = 10)", false},
		{"flag = TRUE", true},
		{"flag = FALSE", false},
		{"TRUE", true},
		{"FALSE", false},
		{"TRUE AND NOT FALSE", true},
		{"b CONTAINS 'bc'", true},
		{"b NOT CONTAINS 'bc'", false},
		{"b STARTSWITH 'ab'", true},
		{"b ENDSWITH 'bc'", true},
		{"b NOT ENDSWITH 'x'", true},
		{"b CONTAINS ''", false},
		{"missing NOT CONTAINS 'x'", false},
		{"word = 'x''y'", true},
		{"KEYS CONTAINS 'k2'", true},
		{"(a = 10 OR b = 'z') AND (f > 1)", true},
		{"a = 10 -- trailing comment\n", true},
		{"/* c */ a /* d */ = 10", true},
		{"A = 10", false}, // property names are case-sensitive
		{"a > 5L", true},
		{"a < 1e2", true},
		{"a < .5E2", true},
		{"a = b", false},
		{"a < b", true}, // two strings: lexical order
		{"1 = 1", true},
		{"1 < 2", true},
		{"'x' = 'x'", true},
	}
	for _, c := range cases {
		f, err := Compile(TypeSQL92, c.expr)
		if err != nil {
			t.Errorf("Compile(%q): %v", c.expr, err)
			continue
		}
		if got := f.Match(msg); got != c.want {
			t.Errorf("%q matched %v, want %v", c.expr, got, c.want)
		}
	}
}

func TestSQL92Errors(t *testing.T) {
	cases := []struct{ expr, why string }{
		{"", "unexpected end"},
		{"a", "not a condition"},
		{"a = ", "unexpected end"},
		{"a = 'x", "unterminated string"},
		{"a = 1 /* x", "unterminated"},
		{"a ==  1", "unexpected"},
		{"a = NULL", "IS NULL"},
		{"a > 'x'", "string cannot be an operand"},
		{"a > TRUE", "condition cannot be an operand"},
		{"TRUE = 1", "cannot compare"},
		{"a AND b = 1", "left side of AND"},
		{"a = 1 OR 5", "right side of OR"},
		{"NOT a", "operand of NOT"},
		{"a IN (1)", "quoted string"},
		{"'x' IN ('x')", "needs a property"},
		{"a IN ()", "quoted string"},
		{"a CONTAINS b", "quoted string"},
		{"a BETWEEN 1 2", "expected AND"},
		{"-a = 1", "needs a number"},
		{"a = 99999999999999999999", "out of range"},
		{"a = 1e", "malformed number"},
		{"a = 12abc", "malformed number"},
		{"a = 1 )", "unexpected"},
		{"(a = 1", "expected )"},
		{"a # 1", "unexpected character"},
		{"a = 1 b = 2", "unexpected"},
		{strings.Repeat("(", 100) + "a = 1" + strings.Repeat(")", 100), "nested deeper"},
		{strings.Repeat("NOT ", 100) + "a = 1", "nested deeper"},
		{"a = " + strings.Repeat("- ", 100) + "1", "nested deeper"},
	}
	for _, c := range cases {
		_, err := Compile(TypeSQL92, c.expr)
		if err == nil {
			t.Errorf("Compile(%q) succeeded, want an error about %q", c.expr, c.why)
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("Compile(%q) = %v, want ErrInvalid about %q", c.expr, err, c.why)
		}
	}
	if _, err := Compile("CLASS", "x"); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown type: %v", err)
	}
	if _, err := Compile(TypeTag, strings.Repeat("a", MaxExpressionBytes+1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("oversized: %v", err)
	}
}

func TestSQL92TypeIsCaseInsensitive(t *testing.T) {
	f, err := Compile("sql92", "a IS NULL")
	if err != nil {
		t.Fatal(err)
	}
	if !f.Match(MapProperties{}) || f.IsTagFilter() || f.MatchesAll() {
		t.Fatal("sql92 filter misclassified")
	}
	if f.MatchTag(nil, false) {
		t.Fatal("MatchTag on an SQL92 filter must not match")
	}
}
