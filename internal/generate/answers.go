package generate

import (
	"math"
	"strconv"
	"strings"
)

// itemWeights make some PHQ-9 and GAD-7 symptoms commoner than others: tiredness and sleep
// trouble are frequent, thoughts of self-harm rare. Items not listed weigh 1.
var itemWeights = map[string]float64{
	"44250-9": 1.1, "44255-8": 1.1, "44259-0": 1.3, "44254-1": 1.4, "44251-7": 0.9,
	"44258-2": 0.9, "44252-5": 0.9, "44253-3": 0.6, "44260-8": 0.25,
	"69735-9": 0.8, "69736-7": 0.9,
}

// answerer fills in one response, item by item in the Questionnaire's order.
type answerer struct {
	d          dice
	p          *patient
	mood       float64 // this response's experience
	severity   float64 // PHQ-9/GAD-7: the expected share of the maximum score
	weights    map[string]float64
	respondent string // self, assisted or proxy
	answers    map[string][]value
	budget     int // questions an in-progress response gets to; -1: all
	answered   int
	score      int // sum of the ordinal values chosen so far
	lastScore  int // the recommendation score, for the reason given
}

func (a *answerer) items(qs []*qItem) []*respItem {
	var out []*respItem
	for _, qi := range qs {
		if a.budget >= 0 && a.answered >= a.budget {
			break
		}
		if qi.Type == "display" || !enabled(qi, a.answers) {
			continue
		}
		if qi.Type == "group" {
			if kids := a.items(qi.Item); len(kids) > 0 {
				out = append(out, &respItem{LinkID: qi.LinkID, Text: qi.Text, Item: kids})
			}
			continue
		}
		ans, ok := a.answer(qi)
		if !ok {
			continue
		}
		out = append(out, &respItem{LinkID: qi.LinkID, Text: qi.Text, Answer: []answer{ans}})
		a.answered++
	}
	return out
}

// answer chooses the answer to one question, or none (skipped).
func (a *answerer) answer(qi *qItem) (answer, bool) {
	d := a.d
	switch qi.Type {
	case "choice":
		if len(qi.AnswerOption) == 0 {
			return answer{}, false
		}
		switch qi.AnswerOption[0].ValueCoding.System {
		case systemLikert:
			if !qi.Required && d.chance(0.03) {
				return answer{}, false // people skip a question now and then
			}
			noise := 0.6
			if strings.HasPrefix(qi.LinkID, "overall.") {
				noise = 0.45 // the overall rating follows the whole experience more closely
			}
			v := int(math.Round(clamp(3+a.mood+d.normal(0, noise), 1, 5)))
			return a.coding(qi, func(o *answerOption) bool { return o.ValueCoding.Code == strconv.Itoa(v) })
		case systemRespond:
			return a.coding(qi, func(o *answerOption) bool { return o.ValueCoding.Code == a.respondent })
		case systemYesNo:
			code := []string{"yes", "no", "dontknow"}[d.weighted(35, 45, 20)]
			if a.p.hasPlan {
				code = []string{"yes", "no", "dontknow"}[d.weighted(80, 12, 8)]
			}
			return a.coding(qi, func(o *answerOption) bool { return o.ValueCoding.Code == code })
		}
		if _, scored := qi.AnswerOption[0].ordinal(); scored {
			return a.symptom(qi)
		}
		chosen := &qi.AnswerOption[d.IntN(len(qi.AnswerOption))]
		return a.coding(qi, func(o *answerOption) bool { return o == chosen })
	case "boolean":
		yes := d.chance(0.3)
		if a.p.hasPlan {
			yes = d.chance(0.9)
		}
		a.answers[qi.LinkID] = append(a.answers[qi.LinkID], value{b: &yes})
		return answer{ValueBoolean: &yes}, true
	case "integer":
		var v int
		lo, hasLo := intExt(qi.Extension, extMinValue)
		hi, hasHi := intExt(qi.Extension, extMaxValue)
		switch {
		case qi.ReadOnly:
			if a.budget >= 0 {
				return answer{}, false // the total is computed when the form is completed
			}
			v = a.score
		case hasLo && hasHi && lo == 0 && hi == 10:
			// Mostly 8 to 10, some 7, and a tail down to 0 from critical patients.
			v = int(math.Round(clamp(d.normal(9.1+1.7*(a.mood-moodContent), 1.1), 0, 10)))
			a.lastScore = v
		default:
			// Waiting days: mostly within a week or two, with a long tail.
			band := [][2]int{{0, 0}, {1, 7}, {8, 21}, {22, 60}, {61, 120}}[d.weighted(25, 45, 20, 8, 2)]
			v = d.between(band[0], band[1])
			if hasLo {
				v = max(v, lo)
			}
			if hasHi {
				v = min(v, hi)
			}
		}
		a.answers[qi.LinkID] = append(a.answers[qi.LinkID], value{i: &v})
		return answer{ValueInteger: &v}, true
	case "text", "string":
		bank, p := a.textBank(qi.LinkID)
		if bank == nil || !d.chance(p) {
			return answer{}, false
		}
		s := d.text(bank)
		a.answers[qi.LinkID] = append(a.answers[qi.LinkID], value{})
		return answer{ValueString: &s}, true
	}
	return answer{}, false
}

// symptom scores one PHQ-9 or GAD-7 item: 0 to 3, as often as the response's severity and
// the item's weight make likely.
func (a *answerer) symptom(qi *qItem) (answer, bool) {
	w := 1.0
	if x, ok := a.weights[qi.LinkID]; ok {
		w = x
	}
	p := clamp(a.severity*w, 0, 0.95)
	score := 0
	for range 3 {
		if a.d.chance(p) {
			score++
		}
	}
	ans, ok := a.coding(qi, func(o *answerOption) bool { v, _ := o.ordinal(); return v == score })
	if ok {
		a.score += score
	}
	return ans, ok
}

// coding answers with the first option match accepts, copied from the Questionnaire.
func (a *answerer) coding(qi *qItem, match func(*answerOption) bool) (answer, bool) {
	for i := range qi.AnswerOption {
		if match(&qi.AnswerOption[i]) {
			c := qi.AnswerOption[i].ValueCoding
			a.answers[qi.LinkID] = append(a.answers[qi.LinkID], value{coding: &c})
			return answer{ValueCoding: &c}, true
		}
	}
	return answer{}, false
}

// textBank chooses the phrases for a free-text item, by what its linkId says it asks, and
// how likely it is to be answered.
func (a *answerer) textBank(linkID string) ([]string, float64) {
	bank := phrases[a.p.lang]
	switch {
	case strings.HasSuffix(linkID, ".improve"):
		return bank.critical, 0.8
	case strings.HasSuffix(linkID, ".positive"):
		if a.mood > 1 {
			return bank.positive, 0.55
		}
		return bank.positive, 0.2
	case strings.HasSuffix(linkID, ".comments"):
		switch {
		case a.mood > 1.2:
			return bank.positive, 0.3
		case a.mood > 0.3:
			return bank.mixed, 0.3
		}
		return bank.critical, 0.4
	case strings.HasSuffix(linkID, ".reason"):
		switch {
		case a.lastScore >= 9:
			return bank.positive, 0.6
		case a.lastScore >= 7:
			return bank.mixed, 0.6
		}
		return bank.critical, 0.7
	}
	return nil, 0
}
