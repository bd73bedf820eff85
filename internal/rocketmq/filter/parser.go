package filter

import (
	"fmt"
	"strconv"
)

// typ is an operand's static type, checked while parsing so that a
// subscription that can never make sense is refused when it is registered.
type typ int8

const (
	tBool typ = iota // a condition, or TRUE / FALSE
	tNumber
	tString
	tProperty // a string at run time, or missing
	tNull     // the NULL literal
)

var typeNames = [...]string{tBool: "a condition", tNumber: "a number", tString: "a string", tProperty: "a property", tNull: "NULL"}

type expr struct {
	n node
	t typ
}

func (e expr) isLiteral() bool { _, ok := e.n.(literal); return ok }

type parser struct {
	toks  []token
	pos   int
	depth int
}

// parseSQL compiles an SQL92 selector into a condition.
func parseSQL(src string) (condition, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	e, err := p.orExpr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, fmt.Errorf("unexpected %s at %d", describe(t), t.pos)
	}
	return p.asCondition(e, "the expression")
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tokEOF {
		p.pos++
	}
	return t
}

// accept consumes the next token if it is the keyword or punctuation text.
func (p *parser) accept(text string) bool {
	t := p.peek()
	if (t.kind == tokKeyword || t.kind == tokPunct) && t.text == text {
		p.pos++
		return true
	}
	return false
}

// acceptNot consumes NOT when the keyword after it is one of follow.
func (p *parser) acceptNot(follow ...string) bool {
	if t := p.peek(); t.kind != tokKeyword || t.text != "NOT" {
		return false
	}
	after := p.toks[p.pos+1] // NOT is never the last token: EOF follows
	for _, f := range follow {
		if after.kind == tokKeyword && after.text == f {
			p.pos++
			return true
		}
	}
	return false
}

func (p *parser) expect(text string) error {
	if p.accept(text) {
		return nil
	}
	t := p.peek()
	return fmt.Errorf("expected %s, found %s at %d", text, describe(t), t.pos)
}

func describe(t token) string {
	switch t.kind {
	case tokEOF:
		return "end of expression"
	case tokString:
		return fmt.Sprintf("string %q", t.text)
	default:
		return fmt.Sprintf("%q", t.text)
	}
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return fmt.Errorf("nested deeper than %d at %d", MaxDepth, p.peek().pos)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

func (p *parser) asCondition(e expr, what string) (condition, error) {
	if e.t != tBool {
		return nil, fmt.Errorf("%s is %s, not a condition", what, typeNames[e.t])
	}
	return e.n.(condition), nil
}

func (p *parser) orExpr() (expr, error) {
	if err := p.enter(); err != nil {
		return expr{}, err
	}
	defer p.leave()
	left, err := p.andExpr()
	if err != nil {
		return expr{}, err
	}
	for p.accept("OR") {
		right, err := p.andExpr()
		if err != nil {
			return expr{}, err
		}
		l, r, err := p.bothConditions(left, right, "OR")
		if err != nil {
			return expr{}, err
		}
		left = expr{or{l, r}, tBool}
	}
	return left, nil
}

func (p *parser) andExpr() (expr, error) {
	left, err := p.notExpr()
	if err != nil {
		return expr{}, err
	}
	for p.accept("AND") {
		right, err := p.notExpr()
		if err != nil {
			return expr{}, err
		}
		l, r, err := p.bothConditions(left, right, "AND")
		if err != nil {
			return expr{}, err
		}
		left = expr{and{l, r}, tBool}
	}
	return left, nil
}

func (p *parser) bothConditions(left, right expr, op string) (condition, condition, error) {
	l, err := p.asCondition(left, "the left side of "+op)
	if err != nil {
		return nil, nil, err
	}
	r, err := p.asCondition(right, "the right side of "+op)
	return l, r, err
}

func (p *parser) notExpr() (expr, error) {
	if !p.accept("NOT") {
		return p.equality()
	}
	if err := p.enter(); err != nil {
		return expr{}, err
	}
	defer p.leave()
	e, err := p.notExpr()
	if err != nil {
		return expr{}, err
	}
	c, err := p.asCondition(e, "the operand of NOT")
	if err != nil {
		return expr{}, err
	}
	return expr{not{c}, tBool}, nil
}

func (p *parser) equality() (expr, error) {
	left, err := p.comparison()
	if err != nil {
		return expr{}, err
	}
	for {
		switch {
		case p.accept("="), p.accept("<>"):
			op := p.toks[p.pos-1].text
			right, err := p.comparison()
			if err != nil {
				return expr{}, err
			}
			if err := checkEqualOperands(left, right, op); err != nil {
				return expr{}, err
			}
			var c condition = comparison{op: opEq, l: left.n, r: right.n}
			if op == "<>" {
				c = not{c}
			}
			left = expr{c, tBool}
		case p.accept("IS"):
			negate := p.accept("NOT")
			if err := p.expect("NULL"); err != nil {
				return expr{}, err
			}
			left = expr{isNull{n: left.n, negate: negate}, tBool}
		default:
			return left, nil
		}
	}
}

func checkEqualOperands(l, r expr, op string) error {
	if l.t == tNull || r.t == tNull {
		return fmt.Errorf("%s NULL never holds; use IS NULL or IS NOT NULL", op)
	}
	if l.isLiteral() && r.isLiteral() && (l.t == tBool) != (r.t == tBool) {
		return fmt.Errorf("cannot compare %s with %s", typeNames[l.t], typeNames[r.t])
	}
	return nil
}

// checkOrdered refuses operands of < <= > >= and BETWEEN that cannot be
// ordered: string, boolean and NULL literals and conditions.
func checkOrdered(e expr, op string) error {
	if e.t == tNumber || e.t == tProperty {
		return nil
	}
	return fmt.Errorf("%s cannot be an operand of %s", typeNames[e.t], op)
}

var orderedOps = map[string]compareOp{"<": opLt, "<=": opLe, ">": opGt, ">=": opGe}

var stringOps = map[string]stringOp{"CONTAINS": opContains, "STARTSWITH": opStartsWith, "ENDSWITH": opEndsWith}

func (p *parser) comparison() (expr, error) {
	left, err := p.unary()
	if err != nil {
		return expr{}, err
	}
	for {
		t := p.peek()
		if op, ok := orderedOps[t.text]; ok && t.kind == tokPunct {
			p.next()
			right, err := p.unary()
			if err != nil {
				return expr{}, err
			}
			if err := checkOrdered(left, t.text); err != nil {
				return expr{}, err
			}
			if err := checkOrdered(right, t.text); err != nil {
				return expr{}, err
			}
			left = expr{comparison{op: op, l: left.n, r: right.n}, tBool}
			continue
		}
		negate := p.acceptNot("CONTAINS", "STARTSWITH", "ENDSWITH", "BETWEEN", "IN")
		t = p.peek()
		if t.kind != tokKeyword {
			return left, nil
		}
		switch t.text {
		case "CONTAINS", "STARTSWITH", "ENDSWITH":
			p.next()
			s, err := p.stringLiteral(t.text)
			if err != nil {
				return expr{}, err
			}
			if left.t != tProperty && left.t != tString {
				return expr{}, fmt.Errorf("%s cannot be an operand of %s", typeNames[left.t], t.text)
			}
			left = expr{stringMatch{op: stringOps[t.text], n: left.n, search: s, negate: negate}, tBool}
		case "BETWEEN":
			p.next()
			e, err := p.between(left, negate)
			if err != nil {
				return expr{}, err
			}
			left = e
		case "IN":
			p.next()
			e, err := p.in(left, negate)
			if err != nil {
				return expr{}, err
			}
			left = e
		default:
			return left, nil
		}
	}
}

func (p *parser) between(value expr, negate bool) (expr, error) {
	low, err := p.unary()
	if err != nil {
		return expr{}, err
	}
	if err := p.expect("AND"); err != nil {
		return expr{}, err
	}
	high, err := p.unary()
	if err != nil {
		return expr{}, err
	}
	for _, e := range []expr{value, low, high} {
		if err := checkOrdered(e, "BETWEEN"); err != nil {
			return expr{}, err
		}
	}
	if negate {
		return expr{or{comparison{op: opLt, l: value.n, r: low.n}, comparison{op: opGt, l: value.n, r: high.n}}, tBool}, nil
	}
	return expr{and{comparison{op: opGe, l: value.n, r: low.n}, comparison{op: opLe, l: value.n, r: high.n}}, tBool}, nil
}

func (p *parser) in(value expr, negate bool) (expr, error) {
	prop, ok := value.n.(property)
	if !ok {
		return expr{}, fmt.Errorf("IN needs a property on its left, not %s", typeNames[value.t])
	}
	if err := p.expect("("); err != nil {
		return expr{}, err
	}
	var items []string
	for {
		s, err := p.stringLiteral("IN")
		if err != nil {
			return expr{}, err
		}
		items = append(items, s)
		if !p.accept(",") {
			break
		}
	}
	if err := p.expect(")"); err != nil {
		return expr{}, err
	}
	return expr{inList{prop: prop, items: items, negate: negate}, tBool}, nil
}

func (p *parser) stringLiteral(after string) (string, error) {
	t := p.next()
	if t.kind != tokString {
		return "", fmt.Errorf("%s needs a quoted string, found %s at %d", after, describe(t), t.pos)
	}
	return t.text, nil
}

func (p *parser) unary() (expr, error) {
	t := p.peek()
	if t.kind != tokPunct || (t.text != "+" && t.text != "-") {
		return p.primary()
	}
	p.next()
	if err := p.enter(); err != nil {
		return expr{}, err
	}
	defer p.leave()
	e, err := p.unary()
	if err != nil {
		return expr{}, err
	}
	if e.t != tNumber {
		return expr{}, fmt.Errorf("unary %s needs a number, not %s, at %d", t.text, typeNames[e.t], t.pos)
	}
	if t.text == "+" {
		return e, nil
	}
	lit := e.n.(literal) // numbers are always literals
	neg, _ := lit.negate()
	return expr{neg, tNumber}, nil
}

func (p *parser) primary() (expr, error) {
	t := p.next()
	switch t.kind {
	case tokString:
		return expr{stringLit(t.text), tString}, nil
	case tokInt:
		i, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			return expr{}, fmt.Errorf("integer %s out of range at %d", t.text, t.pos)
		}
		return expr{intLit(i), tNumber}, nil
	case tokFloat:
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return expr{}, fmt.Errorf("number %s out of range at %d", t.text, t.pos)
		}
		return expr{floatLit(f), tNumber}, nil
	case tokID:
		return expr{property{t.text}, tProperty}, nil
	case tokKeyword:
		switch t.text {
		case "TRUE", "FALSE":
			return expr{boolLit(t.text == "TRUE"), tBool}, nil
		case "NULL":
			return expr{literal{}, tNull}, nil
		}
	case tokPunct:
		if t.text == "(" {
			e, err := p.orExpr()
			if err != nil {
				return expr{}, err
			}
			if err := p.expect(")"); err != nil {
				return expr{}, err
			}
			return e, nil
		}
	}
	return expr{}, fmt.Errorf("unexpected %s at %d", describe(t), t.pos)
}
