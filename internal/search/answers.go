package search

import (
	"strconv"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// The answer search parameters of QuestionnaireResponse. FHIR R4 defines none; this server
// defines three composites, each pairing an item's linkId with its answers:
//
//   - item-answer, linkId$token: Coding answers (system|code, |code or code) and boolean
//     answers (true, false), e.g. item-answer=overall.1$1,2 (overall.1 answered 1 or 2);
//   - item-answer-number, linkId$[prefix]number: integer, decimal and Quantity answers, the
//     ordinal value of a chosen answer option (so that Likert answers compare as numbers)
//     and the scores the server computed, e.g. item-answer-number=phq9-total$ge15;
//   - item-answer-date, linkId$[prefix]date: date and dateTime answers.
//
// Items nested in groups and in answers count as well as top-level ones. A value after a
// comma that gives only the answer (item-answer=overall.1$1,2) shares the linkId of the
// value before it.
//
// The stored values follow the other composites (see Extract): item-answer holds one key
// per pair in K, "linkId$system|code", "linkId$|code" (no system) and "linkId$code"; the
// number and date parameters hold the linkIds in K and each value whole in V, with the
// linkId in its K: the database narrows a search by linkId and the server decides the
// number or date of that linkId in Go, since neither database can match two conditions on
// one array element.
var answerDefinitions = func() []*Definition {
	linkID := answerDef("QuestionnaireResponse-item-linkid", "item-linkid", TypeToken, "linkId")
	token := answerDef("QuestionnaireResponse-item-answer-token", "item-answer-token", TypeToken,
		"answer.value.ofType(Coding) | answer.value.ofType(boolean)")
	number := answerDef("QuestionnaireResponse-item-answer-value-number", "item-answer-value-number", TypeNumber,
		"answer.value.ofType(integer) | answer.value.ofType(decimal) | answer.value.ofType(Quantity).value")
	date := answerDef("QuestionnaireResponse-item-answer-value-date", "item-answer-value-date", TypeDate,
		"answer.value.ofType(date) | answer.value.ofType(dateTime)")
	const items = "QuestionnaireResponse.repeat(item | answer.item)"
	out := []*Definition{
		composite(answerSPID+"item-answer", ParamItemAnswer, items, Component{linkID, "linkId"}, Component{token, token.Expression}),
		composite(answerSPID+"item-answer-number", ParamItemAnswerNumber, items, Component{linkID, "linkId"}, Component{number, number.Expression}),
		composite(answerSPID+"item-answer-date", ParamItemAnswerDate, items, Component{linkID, "linkId"}, Component{date, date.Expression}),
	}
	for _, d := range out {
		d.URL = AnswerParamBase + answerSPID + d.Name
		d.extract = (*acc).answers
	}
	return out
}()

// The names of the answer search parameters.
const (
	ParamItemAnswer       = "item-answer"
	ParamItemAnswerNumber = "item-answer-number"
	ParamItemAnswerDate   = "item-answer-date"
)

// AnswerParamBase is the canonical base of the SearchParameters this server defines
// (AnswerParamBase + "QuestionnaireResponse-item-answer").
const AnswerParamBase = "https://fhir.patient-involvement.example/SearchParameter/"

// answerSPID prefixes the ids of the answer parameters.
const answerSPID = "QuestionnaireResponse-"

func answerDef(id, name string, t ParamType, expr string) *Definition {
	d := def(id, name, t, expr)
	d.URL = AnswerParamBase + id
	return d
}

// answers extracts one answer parameter from a QuestionnaireResponse: every item, at any
// depth, paired with its answers of the parameter's kind. Answers that cannot be read are
// left out: they are the Questionnaire rules' concern, not the resource's structure.
func (a *acc) answers(tree map[string]any) error {
	var walkItems func(v any)
	walkItems = func(v any) {
		list, _ := v.([]any)
		for _, x := range list {
			item, _ := x.(map[string]any)
			if item == nil {
				continue
			}
			linkID, _ := item["linkId"].(string)
			answers, _ := item["answer"].([]any)
			for _, y := range answers {
				ans, _ := y.(map[string]any)
				if ans == nil {
					continue
				}
				if linkID != "" {
					a.answer(linkID, ans)
				}
				walkItems(ans["item"])
			}
			walkItems(item["item"])
		}
	}
	walkItems(tree["item"])
	return nil
}

// answer adds one answer of the item linkID.
func (a *acc) answer(linkID string, ans map[string]any) {
	keys := []string{linkID}
	switch a.def.Name {
	case ParamItemAnswer:
		var vals []string
		if c, ok := ans["valueCoding"]; ok {
			vals, _ = a.codingKeys(c, nil)
		}
		if b, ok := ans["valueBoolean"].(bool); ok {
			vals = append(vals, strconv.FormatBool(b))
		}
		for _, v := range vals {
			a.v.K = appendUnique(a.v.K, linkID+"$"+v)
		}
	case ParamItemAnswerNumber:
		for _, k := range []string{"valueInteger", "valueDecimal"} {
			if n, ok := ans[k]; ok {
				if d, ok, err := a.decimal(n); ok && err == nil {
					a.v.K = appendUnique(a.v.K, linkID)
					a.addQuantityElement(numberQty(d), keys)
				}
			}
		}
		if q, ok := ans["valueQuantity"]; ok {
			if v, ok, err := a.readQuantity(tQuantity, q); ok && err == nil {
				a.v.K = appendUnique(a.v.K, linkID)
				a.addQuantityElement(v, keys)
			}
		}
	case ParamItemAnswerDate:
		for _, k := range []string{"valueDate", "valueDateTime"} {
			if s, ok := ans[k]; ok {
				if lo, hi, err := a.dateValue(s); err == nil {
					a.v.K = appendUnique(a.v.K, linkID)
					a.addElement(Element{Lo: lo, Hi: hi, K: keys})
				}
			}
		}
	}
}

// AddDerived adds to a QuestionnaireResponse's search values the numbers the content
// checker computed (fhir.Derived: the ordinal values of chosen options, total scores),
// as item-answer-number values of their linkId. Other parameters are ignored.
func AddDerived(ix Index, derived []fhir.Derived) {
	for _, d := range derived {
		if d.Param != ParamItemAnswerNumber || d.Key == "" {
			continue
		}
		n, err := parseDecimal(strconv.FormatFloat(d.Number, 'f', -1, 64))
		if err != nil {
			continue
		}
		v := ix[d.Param]
		if v == nil {
			v = &Values{}
			ix[d.Param] = v
		}
		a := acc{v: *v}
		a.v.K = appendUnique(a.v.K, d.Key)
		a.addQuantityElement(numberQty(n), []string{d.Key})
		*v = a.v
	}
}
