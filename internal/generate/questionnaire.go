package generate

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Canonical URLs of the fixture Questionnaires the generator answers.
const (
	base          = "https://fhir.patient-involvement.example"
	urlLUP        = base + "/Questionnaire/lup-outpatient"
	urlPrimarySE  = base + "/Questionnaire/primary-care-experience-se"
	urlNPS        = base + "/Questionnaire/recommend-nps"
	urlPHQ9       = base + "/Questionnaire/phq-9"
	urlGAD7       = base + "/Questionnaire/gad-7"
	extOrdinal    = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
	extMinValue   = "http://hl7.org/fhir/StructureDefinition/minValue"
	extMaxValue   = "http://hl7.org/fhir/StructureDefinition/maxValue"
	systemLikert  = base + "/CodeSystem/likert-5"
	systemRespond = base + "/CodeSystem/respondent-type"
	systemYesNo   = base + "/CodeSystem/yes-no-dontknow"
)

// questionnaire is what the generator reads of a fixture Questionnaire.
type questionnaire struct {
	URL             string   `json:"url"`
	Version         string   `json:"version"`
	Language        string   `json:"language"`
	EffectivePeriod struct { // empty: always in use
		Start string `json:"start"`
		End   string `json:"end"`
	} `json:"effectivePeriod"`
	Item []*qItem `json:"item"`
}

// canonical is url|version, as a QuestionnaireResponse names it.
func (q *questionnaire) canonical() string { return q.URL + "|" + q.Version }

// inUse reports whether the version was in use on day (YYYY-MM-DD).
func (q *questionnaire) inUse(day string) bool {
	p := q.EffectivePeriod
	return (p.Start == "" || p.Start[:10] <= day) && (p.End == "" || day <= p.End[:10])
}

type qItem struct {
	LinkID         string         `json:"linkId"`
	Text           string         `json:"text"`
	Type           string         `json:"type"`
	Required       bool           `json:"required"`
	ReadOnly       bool           `json:"readOnly"`
	EnableWhen     []enableWhen   `json:"enableWhen"`
	EnableBehavior string         `json:"enableBehavior"`
	AnswerOption   []answerOption `json:"answerOption"`
	Extension      []extension    `json:"extension"`
	Item           []*qItem       `json:"item"`
}

type answerOption struct {
	ValueCoding coding      `json:"valueCoding"`
	Extension   []extension `json:"extension"`
}

type extension struct {
	URL          string       `json:"url"`
	ValueInteger *int         `json:"valueInteger"`
	ValueDecimal *json.Number `json:"valueDecimal"`
}

type enableWhen struct {
	Question      string  `json:"question"`
	Operator      string  `json:"operator"`
	AnswerBoolean *bool   `json:"answerBoolean"`
	AnswerInteger *int    `json:"answerInteger"`
	AnswerCoding  *coding `json:"answerCoding"`
}

// intExt returns the integer value of the extension url, if there is one.
func intExt(exts []extension, url string) (int, bool) {
	for _, e := range exts {
		if e.URL == url && e.ValueInteger != nil {
			return *e.ValueInteger, true
		}
	}
	return 0, false
}

// ordinal returns an answer option's ordinalValue.
func (o *answerOption) ordinal() (int, bool) {
	for _, e := range o.Extension {
		if e.URL == extOrdinal && e.ValueDecimal != nil {
			f, err := e.ValueDecimal.Float64()
			return int(f), err == nil
		}
	}
	return 0, false
}

// survey is every version of the fixture Questionnaires, by canonical URL.
type survey map[string][]*questionnaire

// readSurvey reads the Questionnaires under Questionnaire/ in fsys and checks that the ones
// the generator answers are there.
func readSurvey(fsys fs.FS) (survey, error) {
	names, err := fs.Glob(fsys, "Questionnaire/*.json")
	if err != nil {
		return nil, err
	}
	s := survey{}
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		var q questionnaire
		if err := json.Unmarshal(data, &q); err != nil {
			return nil, fmt.Errorf("%s: %w", path.Base(name), err)
		}
		s[q.URL] = append(s[q.URL], &q)
	}
	for _, versions := range s {
		sort.Slice(versions, func(i, j int) bool { return versions[i].Version < versions[j].Version })
	}
	var missing []string
	for _, u := range []string{urlLUP, urlPrimarySE, urlNPS, urlPHQ9, urlGAD7} {
		if len(s[u]) == 0 {
			missing = append(missing, u)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the fixtures lack the Questionnaires %s", strings.Join(missing, ", "))
	}
	return s, nil
}

// version returns the version of url in use on day, or nil.
func (s survey) version(url, day string) *questionnaire {
	for _, q := range s[url] {
		if q.inUse(day) {
			return q
		}
	}
	return nil
}

// value is an answer as enableWhen compares it.
type value struct {
	coding *coding
	b      *bool
	i      *int
}

// enabled evaluates an item's enableWhen against the answers given so far.
func enabled(it *qItem, answers map[string][]value) bool {
	if len(it.EnableWhen) == 0 {
		return true
	}
	any := it.EnableBehavior == "any"
	for _, ew := range it.EnableWhen {
		ok := holds(ew, answers[ew.Question])
		if any && ok {
			return true
		}
		if !any && !ok {
			return false
		}
	}
	return !any
}

func holds(ew enableWhen, got []value) bool {
	if ew.Operator == "exists" {
		return (len(got) > 0) == (ew.AnswerBoolean != nil && *ew.AnswerBoolean)
	}
	for _, v := range got {
		var cmp int
		var comparable bool
		switch {
		case ew.AnswerCoding != nil && v.coding != nil:
			same := v.coding.System == ew.AnswerCoding.System && v.coding.Code == ew.AnswerCoding.Code
			switch ew.Operator {
			case "=":
				if same {
					return true
				}
			case "!=":
				if !same {
					return true
				}
			}
			continue
		case ew.AnswerBoolean != nil && v.b != nil:
			cmp, comparable = boolCmp(*v.b, *ew.AnswerBoolean), true
		case ew.AnswerInteger != nil && v.i != nil:
			cmp, comparable = *v.i-*ew.AnswerInteger, true
		}
		if !comparable {
			continue
		}
		if (ew.Operator == "=" && cmp == 0) || (ew.Operator == "!=" && cmp != 0) ||
			(ew.Operator == "<" && cmp < 0) || (ew.Operator == "<=" && cmp <= 0) ||
			(ew.Operator == ">" && cmp > 0) || (ew.Operator == ">=" && cmp >= 0) {
			return true
		}
	}
	return false
}

func boolCmp(a, b bool) int {
	if a == b {
		return 0
	}
	return 1
}
