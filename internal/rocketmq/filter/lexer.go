package filter

import (
	"fmt"
	"strings"
)

type tokenKind int

const (
	tokEOF tokenKind = iota
	tokID
	tokString
	tokInt
	tokFloat
	tokPunct   // = <> < <= > >= ( ) , + -
	tokKeyword // text holds the upper-case keyword
)

type token struct {
	kind tokenKind
	text string // identifier, unquoted string, number, punctuation or keyword
	pos  int    // byte offset in the expression, for error messages
}

var keywords = map[string]bool{
	"NOT": true, "AND": true, "OR": true, "BETWEEN": true, "IN": true,
	"TRUE": true, "FALSE": true, "NULL": true, "IS": true,
	"CONTAINS": true, "STARTSWITH": true, "ENDSWITH": true,
}

// lex splits an SQL92 selector into tokens, ending with tokEOF.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for {
		i = skipSpaceAndComments(src, i)
		if i < 0 {
			return nil, fmt.Errorf("unterminated /* comment")
		}
		if i >= len(src) {
			return append(toks, token{kind: tokEOF, pos: i}), nil
		}
		c := src[i]
		start := i
		switch {
		case isIDStart(c):
			for i < len(src) && isIDPart(src[i]) {
				i++
			}
			word := src[start:i]
			if up := strings.ToUpper(word); keywords[up] {
				toks = append(toks, token{kind: tokKeyword, text: up, pos: start})
			} else {
				toks = append(toks, token{kind: tokID, text: word, pos: start})
			}
		case c == '\'':
			s, next, err := lexString(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokString, text: s, pos: start})
			i = next
		case isDigit(c) || (c == '.' && i+1 < len(src) && isDigit(src[i+1])):
			t, next, err := lexNumber(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i = next
		case c == '<' && i+1 < len(src) && (src[i+1] == '>' || src[i+1] == '='):
			toks = append(toks, token{kind: tokPunct, text: src[i : i+2], pos: start})
			i += 2
		case c == '>' && i+1 < len(src) && src[i+1] == '=':
			toks = append(toks, token{kind: tokPunct, text: ">=", pos: start})
			i += 2
		case strings.IndexByte("=<>(),+-", c) >= 0:
			toks = append(toks, token{kind: tokPunct, text: src[i : i+1], pos: start})
			i++
		default:
			return nil, fmt.Errorf("unexpected character %q at %d", c, i)
		}
	}
}

// skipSpaceAndComments returns the offset of the next token, or -1 inside
// an unterminated block comment.
func skipSpaceAndComments(src string, i int) int {
	for i < len(src) {
		switch {
		case strings.IndexByte(" \t\n\r\f", src[i]) >= 0:
			i++
		case strings.HasPrefix(src[i:], "--"):
			end := strings.IndexAny(src[i:], "\r\n")
			if end < 0 {
				return len(src)
			}
			i += end + 1
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return -1
			}
			i += 2 + end + 2
		default:
			return i
		}
	}
	return i
}

// lexString reads a quoted literal starting at src[i] == '\”; two quotes
// inside stand for one.
func lexString(src string, i int) (string, int, error) {
	var b strings.Builder
	for j := i + 1; j < len(src); j++ {
		if src[j] != '\'' {
			b.WriteByte(src[j])
			continue
		}
		if j+1 < len(src) && src[j+1] == '\'' {
			b.WriteByte('\'')
			j++
			continue
		}
		return b.String(), j + 1, nil
	}
	return "", 0, fmt.Errorf("unterminated string starting at %d", i)
}

// lexNumber reads an integer (optionally suffixed l or L) or a decimal
// number with an optional exponent.
func lexNumber(src string, i int) (token, int, error) {
	start := i
	isFloat := false
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	if i < len(src) && src[i] == '.' {
		isFloat = true
		i++
		for i < len(src) && isDigit(src[i]) {
			i++
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		j := i + 1
		if j < len(src) && (src[j] == '+' || src[j] == '-') {
			j++
		}
		if j >= len(src) || !isDigit(src[j]) {
			return token{}, 0, fmt.Errorf("malformed number at %d", start)
		}
		for j < len(src) && isDigit(src[j]) {
			j++
		}
		i, isFloat = j, true
	}
	text := src[start:i]
	if !isFloat && i < len(src) && (src[i] == 'l' || src[i] == 'L') {
		i++
	}
	if i < len(src) && isIDPart(src[i]) {
		return token{}, 0, fmt.Errorf("malformed number at %d", start)
	}
	kind := tokInt
	if isFloat {
		kind = tokFloat
	}
	return token{kind: kind, text: text, pos: start}, i, nil
}

func isDigit(c byte) bool   { return c >= '0' && c <= '9' }
func isIDStart(c byte) bool { return c == '_' || c == '$' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIDPart(c byte) bool  { return isIDStart(c) || isDigit(c) }
