package questionnaire

import (
	"context"
	"fmt"
	"time"

	"github.com/gofhir/fhirpath"
	"github.com/gofhir/fhirpath/eval"
	"github.com/gofhir/fhirpath/funcs"
	"github.com/gofhir/fhirpath/types"

	"github.com/patient-involvement/fhir-server/internal/pathexpr"
)

// expression is a compiled FHIRPath expression of a Questionnaire: an enableWhenExpression,
// a calculatedExpression or a variable.
type expression struct {
	text     string
	name     string // the variable's name
	compiled *fhirpath.Expression
}

func compileFHIRPath(text, name string) (*expression, error) {
	c, err := pathexpr.Compile(text)
	if err != nil {
		return nil, err
	}
	return &expression{text: text, name: name, compiled: c}, nil
}

// evalTimeout bounds the evaluation of one expression of a Questionnaire.
const evalTimeout = time.Second

// evaluator evaluates a Questionnaire's expressions on one response. The context of every
// expression, %resource, %context and $this, is the QuestionnaireResponse; %questionnaire is
// the Questionnaire; the variables of the Questionnaire and of the item's ancestors are set
// by name.
type evaluator struct {
	c     *Checker
	qr    []byte
	ctx   context.Context
	q     types.Collection
	vars  map[*Item]map[string]types.Collection
	stats *evalStats
}

// evalStats counts what the SDC functions could not resolve during one evaluation.
type evalStats struct {
	// unknownCodings counts ordinal() calls on codings that are not options.
	unknownCodings int
}

type checkerKey struct{}

func newEvaluator(ctx context.Context, c *Checker, qr []byte) *evaluator {
	ev := &evaluator{c: c, qr: qr, vars: map[*Item]map[string]types.Collection{}, stats: &evalStats{}}
	ev.ctx = context.WithValue(ctx, checkerKey{}, ev)
	if c.json != nil {
		ev.q, _ = types.JSONToCollection(c.json)
	}
	return ev
}

// variablesFor returns the variables in scope at it (nil: the Questionnaire's own).
func (ev *evaluator) variablesFor(it *Item) (map[string]types.Collection, error) {
	if vs, ok := ev.vars[it]; ok {
		return vs, nil
	}
	var base map[string]types.Collection
	var own []*expression
	if it == nil {
		base, own = map[string]types.Collection{}, ev.c.variables
	} else {
		var err error
		if base, err = ev.variablesFor(it.parent); err != nil {
			return nil, err
		}
		own = it.variables
	}
	vs := base
	if len(own) > 0 {
		vs = make(map[string]types.Collection, len(base)+len(own))
		for k, v := range base {
			vs[k] = v
		}
		for _, x := range own {
			val, err := ev.run(x, vs)
			if err != nil {
				return nil, fmt.Errorf("variable %s: %w", x.name, err)
			}
			vs[x.name] = val
		}
	}
	ev.vars[it] = vs
	return vs, nil
}

// eval evaluates an expression of item it.
func (ev *evaluator) eval(x *expression, it *Item) (types.Collection, error) {
	vs, err := ev.variablesFor(it)
	if err != nil {
		return nil, err
	}
	return ev.run(x, vs)
}

func (ev *evaluator) run(x *expression, vs map[string]types.Collection) (types.Collection, error) {
	opts := []fhirpath.EvalOption{fhirpath.WithContext(ev.ctx), fhirpath.WithTimeout(evalTimeout), fhirpath.WithMaxCollectionSize(10000)}
	if ev.q != nil {
		opts = append(opts, fhirpath.WithVariable("questionnaire", ev.q))
	}
	for k, v := range vs {
		opts = append(opts, fhirpath.WithVariable(k, v))
	}
	return pathexpr.Evaluate(x.compiled, ev.qr, opts...)
}

// The SDC functions the expressions of scored Questionnaires use (answers().sum(value.ordinal()),
// as in the SDC PHQ-9 example):
//   - answers() returns the answers of the input items and of every item nested in them;
//   - ordinal() returns the ordinal value of each input Coding: the ordinalValue of the
//     Questionnaire's option with its system and code;
//   - sum(projection), besides FHIRPath's sum(), adds up the projection's values.
func init() {
	funcs.Register(eval.FuncDef{Name: "answers", MinArgs: 0, MaxArgs: 0, Fn: fnAnswers})
	funcs.Register(eval.FuncDef{Name: "ordinal", MinArgs: 0, MaxArgs: 0, Fn: fnOrdinal})
	if sum, ok := funcs.Get("sum"); ok && sum.MaxArgs == 0 {
		plain := sum.Fn
		funcs.Register(eval.FuncDef{Name: "sum", MinArgs: 0, MaxArgs: 1, Fn: func(ctx *eval.Context, input types.Collection, args []interface{}) (types.Collection, error) {
			if len(args) == 1 {
				if projected, ok := args[0].(types.Collection); ok {
					input = projected
				}
			}
			return plain(ctx, input, nil)
		}})
	}
}

func fnAnswers(_ *eval.Context, input types.Collection, _ []interface{}) (types.Collection, error) {
	var out types.Collection
	var walk func(o *types.ObjectValue)
	walk = func(o *types.ObjectValue) {
		for _, a := range o.GetCollection("answer") {
			out = append(out, a)
			if ao, ok := a.(*types.ObjectValue); ok {
				for _, child := range ao.GetCollection("item") {
					if co, ok := child.(*types.ObjectValue); ok {
						walk(co)
					}
				}
			}
		}
		for _, child := range o.GetCollection("item") {
			if co, ok := child.(*types.ObjectValue); ok {
				walk(co)
			}
		}
	}
	for _, v := range input {
		if o, ok := v.(*types.ObjectValue); ok {
			walk(o)
		}
	}
	return out, nil
}

func fnOrdinal(ctx *eval.Context, input types.Collection, _ []interface{}) (types.Collection, error) {
	ev, _ := ctx.Context().Value(checkerKey{}).(*evaluator)
	if ev == nil {
		return types.Collection{}, nil
	}
	var out types.Collection
	for _, v := range input {
		o, ok := v.(*types.ObjectValue)
		if !ok {
			continue
		}
		if c, ok := o.Get("valueCoding"); ok {
			if co, ok := c.(*types.ObjectValue); ok {
				o = co
			}
		}
		code, ok := o.Get("code")
		if !ok {
			continue
		}
		system := ""
		if s, ok := o.Get("system"); ok {
			system = s.String()
		}
		if ord, found := ev.c.ordinal(system, code.String()); found {
			out = append(out, types.NewDecimalFromFloat(ord))
		} else {
			ev.stats.unknownCodings++
		}
	}
	return out, nil
}

// number reads a single numeric result (an Integer, a Decimal or a Quantity's value).
func number(col types.Collection) (float64, bool) {
	if len(col) != 1 {
		return 0, false
	}
	switch v := col[0].(type) {
	case types.Integer:
		return float64(v.Value()), true
	case types.Decimal:
		f, _ := v.Value().Float64()
		return f, true
	case types.Quantity:
		f, _ := v.Value().Float64()
		return f, true
	case *types.ObjectValue:
		if q, ok := v.ToQuantity(); ok {
			f, _ := q.Value().Float64()
			return f, true
		}
	}
	return 0, false
}

// truth reads a boolean result: a single true is true; empty or false is false.
func truth(col types.Collection) (bool, bool) {
	if len(col) == 0 {
		return false, true
	}
	if len(col) == 1 {
		if b, ok := col[0].(types.Boolean); ok {
			return b.Bool(), true
		}
	}
	return false, false
}
