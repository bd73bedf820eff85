package filter

import (
	"strings"
	"testing"
)

// FuzzCompile feeds arbitrary expressions to both compilers and evaluates
// what compiles against a few messages: nothing may panic, and whatever
// compiles must evaluate deterministically.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"a = 10", "a > 5 AND b IN ('x', 'y')", "NOT (a BETWEEN 1 AND 2) OR c IS NULL",
		"b CONTAINS 'x' AND b NOT STARTSWITH 'y'", "TRUE", "-1.5e3 < a", "'it''s' = b",
		"/* c */ a <> 1 -- x", "A || B", "*", "((((a = 1))))", "a = 1L",
	} {
		f.Add(s)
	}
	msgs := []Properties{
		MapProperties{},
		MapProperties{"a": "10", "b": "x", "c": "2.5", "TAGS": "A"},
		MapProperties{"a": "not a number", "b": "it's", "TAGS": "B"},
	}
	f.Fuzz(func(t *testing.T, expr string) {
		for _, typ := range []string{TypeSQL92, TypeTag} {
			flt, err := Compile(typ, expr)
			if err != nil {
				if flt != nil {
					t.Fatalf("Compile(%q) returned a filter with error %v", expr, err)
				}
				continue
			}
			for _, m := range msgs {
				if flt.Match(m) != flt.Match(m) {
					t.Fatalf("%q evaluates differently twice", expr)
				}
			}
		}
		// Tags split on "||" never keep surrounding blanks.
		if flt, _ := Compile(TypeTag, expr); flt != nil {
			for _, tag := range flt.tags {
				if tag != strings.TrimSpace(tag) || tag == "" {
					t.Fatalf("tag %q from %q", tag, expr)
				}
			}
		}
	})
}
