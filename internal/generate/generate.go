// Package generate writes realistic, made-up patient-reported data as NDJSON:
// QuestionnaireResponses answering the fixture Questionnaires and shared CarePlans, for a
// chosen number of patients over one year (2025-12-01 to 2026-11-30).
//
// The Questionnaires are read from the fixtures, so linkIds, answer options, codes and
// versions always match them: a response names the version in use on its date, skips
// items that enableWhen disables, and its PHQ-9 or GAD-7 total is the sum of its item
// scores. Answers look like real survey results: Likert items lean positive with a minority
// of critical answers, recommendation scores are mostly 8 to 10 with a tail, depression and
// anxiety scores are mostly low to moderate (and fall over a course of treatment), free text
// is drawn from Danish, Swedish and English phrase banks, and about one response in ten is still in
// progress.
//
// Output depends only on the seed and the number of patients: the same seed gives the same
// bytes (and patient n is the same whatever the number of patients), and ids are stable, so
// loading generated data twice writes it once.
package generate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// Options say what to generate.
type Options struct {
	// Patients is how many patients to generate data for (at least 1).
	Patients int
	// Seed selects the data; the same seed gives the same output.
	Seed uint64
}

// Stats count what was written.
type Stats struct {
	Patients, Responses, InProgress, CarePlans int
}

// Write writes the generated resources to w as NDJSON, one resource a line, patient by
// patient: their responses in date order, then their care plan. fsys holds the fixtures
// (fixtures.FS()), from which the Questionnaires are read.
func Write(w io.Writer, fsys fs.FS, opts Options) (Stats, error) {
	var st Stats
	if opts.Patients < 1 {
		return st, errors.New("generate: at least one patient")
	}
	sv, err := readSurvey(fsys)
	if err != nil {
		return st, err
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for n := 1; n <= opts.Patients; n++ {
		p := newPatient(opts.Seed, n)
		for _, qr := range p.responses(sv) {
			if err := enc.Encode(qr); err != nil {
				return st, err
			}
			st.Responses++
			if qr.Status == "in-progress" {
				st.InProgress++
			}
		}
		if p.hasPlan {
			if err := enc.Encode(p.carePlan()); err != nil {
				return st, err
			}
			st.CarePlans++
		}
		st.Patients++
	}
	return st, nil
}

// moodContent is the mean mood of a content patient.
const moodContent = 1.5

// dice is the random source of one patient, with the draws the generator needs.
type dice struct{ *rand.Rand }

func (d dice) chance(p float64) bool           { return d.Float64() < p }
func (d dice) between(lo, hi int) int          { return lo + d.IntN(hi-lo+1) }
func (d dice) normal(mean, sd float64) float64 { return mean + sd*d.NormFloat64() }
func pick[T any](d dice, list []T) T           { return list[d.IntN(len(list))] }

// weighted returns an index drawn with the given weights.
func (d dice) weighted(weights ...float64) int {
	sum := 0.0
	for _, w := range weights {
		sum += w
	}
	x := d.Float64() * sum
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

// text is a free-text answer: one phrase, or now and then two.
func (d dice) text(bank []string) string {
	first := d.IntN(len(bank))
	if d.chance(0.25) {
		second := d.IntN(len(bank) - 1)
		if second >= first {
			second++
		}
		return bank[first] + " " + bank[second]
	}
	return bank[first]
}

// relatedPerson is a relative who answers for the patient.
type relatedPerson struct {
	id, display string
}

// patient is one made-up patient and everything drawn for them.
type patient struct {
	d       dice
	id      string
	lang    string
	given   string
	family  string
	track   *track
	nurse   staff // the fixed contact
	proxy   *relatedPerson
	mood    float64 // how satisfied they tend to be: around 1 content, below 0 critical
	phq     float64 // expected PHQ-9 total at the first measurement
	improve float64 // factor by which it changes from one measurement to the next
	hasPlan bool
	visits  []time.Time
}

func newPatient(seed uint64, n int) *patient {
	d := dice{rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15*uint64(n)+1))}
	p := &patient{d: d, id: fmt.Sprintf("gen-%d-p%04d", seed, n)}
	weights := make([]float64, len(tracks))
	for i, t := range tracks {
		weights[i] = t.weight
	}
	p.track = tracks[d.weighted(weights...)]
	p.lang = p.track.unit.lang
	female := d.chance(0.55)
	p.given, p.family = p.name(female), pick(d, familyNames[p.lang])
	p.nurse = pick(d, p.track.unit.nurses)
	if d.chance(p.track.proxy) {
		rel := relation[p.lang]
		daughter := d.chance(0.6)
		r := rel[1]
		if daughter {
			r = rel[0]
		}
		p.proxy = &relatedPerson{id: p.id + "-rp", display: fmt.Sprintf("%s %s (%s %s)", p.name(daughter), p.family, r, p.fullName())}
	}
	// Most patients are content; about one in eight is critical. With the noise per
	// response and per item this gives Likert answers of about 44 % "5", 35 % "4", 14 % "3"
	// and 7 % "1" or "2", as in published patient-experience surveys.
	if d.chance(0.88) {
		p.mood = d.normal(moodContent, 0.5)
	} else {
		p.mood = d.normal(-0.4, 0.8)
	}
	// Expected PHQ-9 at the first measurement: in psychiatric care mostly moderate, in
	// screening of other patients mostly minimal or mild.
	bands := [][2]int{{0, 4}, {5, 9}, {10, 14}, {15, 19}, {20, 27}}
	var band [2]int
	if p.track.psych {
		band = bands[d.weighted(5, 20, 40, 25, 10)]
		p.improve = d.normal(0.75, 0.1)
		if d.chance(0.2) {
			p.improve = d.normal(1.0, 0.08) // no response to treatment
		}
	} else {
		band = bands[d.weighted(55, 30, 10, 4, 1)]
		p.improve = d.normal(0.95, 0.1)
	}
	p.phq = float64(d.between(band[0], band[1]))
	p.hasPlan = d.chance(p.track.carePlan)

	// Visits: a few days over the year, in order; in psychiatric care each is a PHQ-9 and
	// GAD-7 measurement.
	k := 2 + d.weighted(30, 35, 25, 10) // 2 to 5
	if p.track.psych {
		k = 2 + d.weighted(35, 40, 25) // 2 to 4
	}
	days := map[int]bool{}
	for len(days) < k {
		days[d.IntN(windowDays)] = true
	}
	offsets := make([]int, 0, k)
	for o := range days {
		offsets = append(offsets, o)
	}
	sort.Ints(offsets) // map order is random: sort before use
	for _, o := range offsets {
		p.visits = append(p.visits, windowStart.AddDate(0, 0, o))
	}
	return p
}

// name draws a given name: the first half of each list is female, the second male.
func (p *patient) name(female bool) string {
	names := givenNames[p.lang]
	half := len(names) / 2
	if female {
		return names[p.d.IntN(half)]
	}
	return names[half+p.d.IntN(half)]
}

func (p *patient) fullName() string { return p.given + " " + p.family }

func (p *patient) ref() reference {
	return reference{Reference: "Patient/" + p.id, Display: p.fullName()}
}

// planned is one questionnaire to answer at a visit.
type planned struct {
	url    string
	visit  int
	unit   *unit
	minute int
}

// responses answers the questionnaires planned for the patient's visits.
func (p *patient) responses(sv survey) []*questionnaireResponse {
	d := p.d
	var plan []planned
	expUnit := func() *unit {
		if p.lang == "da" && d.chance(0.006) {
			return pick(d, smallUnits)
		}
		if len(p.track.surveyUnits) > 1 && d.chance(0.3) {
			return p.track.surveyUnits[1+d.IntN(len(p.track.surveyUnits)-1)]
		}
		return p.track.surveyUnits[0]
	}
	experience := urlLUP
	if p.lang == "sv" {
		experience = urlPrimarySE
	}
	screened := false
	for v := range p.visits {
		visitMinute := d.between(8*60, 15*60+30)
		later := func() int { return min(visitMinute+d.between(20, 420), 22*60+30) }
		switch {
		case p.track.psych:
			plan = append(plan, planned{urlPHQ9, v, p.track.unit, visitMinute}, planned{urlGAD7, v, p.track.unit, visitMinute + d.between(4, 9)})
			if d.chance(0.25) {
				plan = append(plan, planned{experience, v, expUnit(), later()})
			}
		case d.chance(0.75):
			plan = append(plan, planned{experience, v, expUnit(), later()})
		default:
			plan = append(plan, planned{urlNPS, v, p.track.unit, later()})
		}
		if !p.track.psych && !screened && d.chance(0.12) {
			screened = true
			plan = append(plan, planned{urlPHQ9, v, p.track.unit, visitMinute})
		}
		if d.chance(0.15) {
			plan = append(plan, planned{urlNPS, v, p.track.unit, min(later()+d.between(1, 30), 23*60)})
		}
	}
	sort.SliceStable(plan, func(i, j int) bool {
		if plan[i].visit != plan[j].visit {
			return plan[i].visit < plan[j].visit
		}
		return plan[i].minute < plan[j].minute
	})

	var out []*questionnaireResponse
	measurement := 0
	for _, pl := range plan {
		date := p.visits[pl.visit]
		q := sv.version(pl.url, day(date))
		if q == nil {
			continue // not in use on that date
		}
		if pl.url == urlPHQ9 {
			measurement++
		}
		out = append(out, p.respond(q, pl, measurement, len(out)+1))
	}
	return out
}

// respond fills in one questionnaire.
func (p *patient) respond(q *questionnaire, pl planned, measurement, n int) *questionnaireResponse {
	d := p.d
	date := p.visits[pl.visit]
	id := fmt.Sprintf("%s-r%02d", p.id, n)
	visitWord := map[string]string{"da": "Besøg", "sv": "Besök", "en": "Visit"}[pl.unit.lang]
	qr := &questionnaireResponse{
		ResourceType: "QuestionnaireResponse", ID: id, Meta: generatedTag, Language: p.lang,
		Identifier:    identifier{System: base + "/sid/response-id", Value: strings.ToUpper(id)},
		Extension:     []refExtension{pl.unit.careUnit()},
		Questionnaire: q.canonical(), Status: "completed", Subject: p.ref(),
		Encounter: reference{
			Reference: fmt.Sprintf("Encounter/%s-e%02d", p.id, pl.visit+1),
			Display:   fmt.Sprintf("%s %s, %s", visitWord, day(date), pl.unit.name),
		},
		Authored: localDateTime(date, pl.minute),
		Author:   p.ref(), Source: p.ref(),
	}

	// Units differ, and change over the year (month 0 is December 2025).
	months := float64((date.Year()-2025)*12 + int(date.Month()) - 12)
	mood := p.mood + pl.unit.quality + pl.unit.trend*months + d.normal(0, 0.35)
	a := &answerer{d: d, p: p, mood: mood, answers: map[string][]value{}, budget: -1, respondent: "self"}
	switch {
	case p.proxy != nil && d.chance(0.7):
		a.respondent = "proxy"
		rp := reference{Reference: "RelatedPerson/" + p.proxy.id, Display: p.proxy.display}
		qr.Author, qr.Source = rp, rp
	case d.chance(0.08):
		a.respondent = "assisted"
	}
	if pl.url == urlPHQ9 || pl.url == urlGAD7 {
		phq := p.phq * math.Pow(p.improve, float64(max(measurement-1, 0)))
		a.severity = clamp(d.normal(phq, 1.5), 0, 27) / 27
		if pl.url == urlGAD7 {
			a.severity = clamp(d.normal(a.severity*0.8, 0.08), 0, 1)
		}
		if d.chance(0.2) {
			clinician := p.track.unit.doctor
			if d.chance(0.5) {
				clinician = p.nurse
			}
			qr.Author = clinician.ref()
		}
		a.weights = itemWeights
	}
	if d.chance(0.1) {
		qr.Status = "in-progress"
		a.budget = d.between(1, max(1, countQuestions(q.Item)*2/3))
	}
	qr.Item = a.items(q.Item)
	return qr
}

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }

func countQuestions(items []*qItem) int {
	n := 0
	for _, it := range items {
		switch it.Type {
		case "group":
			n += countQuestions(it.Item)
		case "display":
		default:
			n++
		}
	}
	return n
}
