package generate

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// planWords are the parts of a care plan that do not depend on the condition.
type planWords struct {
	fixedContact, patient, doctor, home, team           string
	ownGoal                                             string // the patient's own goal
	phone                                               string // the care team's telephone
	homeVisit, homeVisitText, video, videoText, videoAt string
	description                                         string // condition, unit, nurse name, nurse title
}

var words = map[string]planWords{
	"da": {
		fixedContact: "Fast kontaktperson", patient: "Patient", doctor: "Læge", home: "Patientens hjem", team: "Team omkring %s",
		ownGoal: "Det vigtigste for mig: at klare min hverdag selv", phone: "+45 70 10 20 30",
		homeVisit: "Hjemmebesøg af din faste kontaktperson", homeVisitText: "Din kontaktperson kommer hjem til dig hver anden måned. Vi ser på medicin, målinger og hvordan hverdagen fungerer.",
		video: "Opfølgning på video", videoText: "Kort videosamtale hver måned med din faste kontaktperson. Har du brug for mere tid, booker vi en ekstra samtale.", videoAt: "Videokonsultation (sikkert link)",
		description: "Din plan for forløbet med %s, lagt sammen med dig. Planen deles med dig, %s og de fagfolk, der hjælper dig, så alle arbejder ud fra det samme. Din faste kontaktperson er %s, %s.",
	},
	"sv": {
		fixedContact: "Fast vårdkontakt", patient: "Patient", doctor: "Läkare", home: "Patientens hem", team: "Team kring %s",
		ownGoal: "Det viktigaste för mig: att klara min vardag själv", phone: "+46 10 123 45 00",
		homeVisit: "Hembesök av din fasta vårdkontakt", homeVisitText: "Din vårdkontakt kommer hem till dig varannan månad: läkemedel, mätvärden och hur vardagen fungerar.",
		video: "Uppföljning via video", videoText: "Kort videobesök varje månad med din fasta vårdkontakt. Extra tid bokas vid behov.", videoAt: "Videobesök (säker videolänk)",
		description: "Din plan för livet med %s, gjord tillsammans med dig. Planen delas med dig, %s och de som vårdar dig, så att alla arbetar utifrån samma plan. Din fasta vårdkontakt är %s, %s.",
	},
	"en": {
		fixedContact: "Fixed care contact", patient: "Patient", doctor: "Doctor", home: "At home", team: "Team around %s",
		ownGoal: "What matters most to me: managing my everyday life myself", phone: "+45 70 10 20 40",
		homeVisit: "Home visit by your fixed care contact", homeVisitText: "Your care contact visits you at home every other month: medicines, measurements and how everyday life is going.",
		video: "Video follow-up", videoText: "A short video call every month with your fixed care contact. If you need more time, we book an extra call.", videoAt: "Video consultation (secure link)",
		description: "Your plan for living with %s, made together with you. It is shared with you, %s and the professionals who help you, so that everyone works from the same plan. Your fixed care contact is %s, %s.",
	},
}

// carePlan is the patient's shared care plan: written with them some weeks before their
// first visit of the year, for one to two years; one that has ended is completed.
func (p *patient) carePlan() *carePlan {
	d := p.d
	w := words[p.lang]
	t := p.track
	u := t.unit
	id := p.id + "-cp"
	start := p.visits[0].AddDate(0, 0, -d.between(7, 90))
	end := start.AddDate(0, []int{12, 18, 24}[d.weighted(30, 40, 30)], -1)
	status, teamStatus, activityStatus := "active", "active", "in-progress"
	switch {
	case end.Before(windowEnd):
		status, teamStatus, activityStatus = "completed", "inactive", "completed"
	case d.chance(0.06):
		status, activityStatus = "on-hold", "on-hold"
	}
	nurse, doctor := p.nurse.ref(), u.doctor.ref()
	org := u.org()
	me := p.ref()

	var goals []reference
	for i, g := range t.plan.goals {
		goals = append(goals, reference{Reference: fmt.Sprintf("Goal/%s-g%d", p.id, i+1), Display: g})
	}
	// The patient's own goal, contained and expressed by them: theirs to change.
	own := goal{ResourceType: "Goal", ID: "own-goal", LifecycleStatus: "active", Description: codeableConcept{Text: w.ownGoal},
		Subject: me, ExpressedBy: me}
	goals = append(goals, reference{Reference: "#own-goal", Display: w.ownGoal})
	bounds := func(fromDay, weeks int) period {
		b := period{Start: day(start.AddDate(0, 0, fromDay))}
		if weeks > 0 {
			b.End = day(start.AddDate(0, 0, fromDay+7*weeks))
		}
		return b
	}
	scheduled := func(s string) string {
		if s == "in-progress" {
			return "scheduled"
		}
		return s
	}

	mf := t.plan.monitorFreq
	monitor := timingRepeat{BoundsPeriod: bounds(1, 0), Frequency: mf[0], Period: 1, PeriodUnit: "d"}
	if mf[1] == 7 {
		monitor.PeriodUnit = "wk"
	} else {
		monitor.TimeOfDay = []string{"08:00:00"}
		if mf[0] == 2 {
			monitor.TimeOfDay = append(monitor.TimeOfDay, "18:00:00")
		}
	}
	acts := []activity{{Detail: activityDetail{
		Kind: "Task", Code: codeableConcept{Text: t.plan.monitor.code}, Goal: goals[:1], Status: activityStatus,
		ScheduledTiming: timing{Repeat: monitor}, Location: &place{Display: w.home}, Performer: []reference{me},
		Description: t.plan.monitor.description,
	}}}
	if t.plan.homeVisits {
		acts = append(acts, activity{Detail: activityDetail{
			Kind: "Appointment", Code: codeableConcept{Text: w.homeVisit}, Status: scheduled(activityStatus),
			ScheduledTiming: timing{Repeat: timingRepeat{BoundsPeriod: bounds(14, 50), Frequency: 1, Period: 2, PeriodUnit: "mo"}},
			Location:        &place{Display: w.home}, Performer: []reference{nurse}, Description: w.homeVisitText,
		}})
	}
	acts = append(acts, activity{Detail: activityDetail{
		Kind: "Appointment", Code: codeableConcept{Text: w.video}, Status: scheduled(activityStatus),
		ScheduledTiming: timing{Repeat: timingRepeat{BoundsPeriod: bounds(28, 48), Frequency: 1, Period: 1, PeriodUnit: "mo"}},
		Location:        &place{Display: w.videoAt}, Performer: []reference{nurse}, Description: w.videoText,
	}})
	ex, c := t.plan.extra, t.plan.course
	exRepeat := timingRepeat{BoundsPeriod: bounds(21, c.weeks), Frequency: c.perWeek, Period: 1, PeriodUnit: "wk"}
	if c.perWeek == 0 {
		exRepeat.Frequency, exRepeat.Period = 1, c.everyWeeks
	}
	exStatus := scheduled(activityStatus)
	if c.weeks < 52 && status == "active" && !start.AddDate(0, 0, 21+7*c.weeks).After(windowEnd) {
		exStatus = "completed"
	}
	acts = append(acts, activity{Detail: activityDetail{
		Kind: "Appointment", Code: codeableConcept{Text: ex.code}, Goal: goals[len(goals)-2 : len(goals)-1], Status: exStatus,
		ScheduledTiming: timing{Repeat: exRepeat}, Location: &place{Display: u.name},
		Performer: []reference{{Reference: org.Reference, Display: org.Display}}, Description: ex.description,
	}})

	var notes []annotation
	if d.chance(0.4) {
		last := earlier(end, windowEnd)
		span := int(last.Sub(start).Hours() / 24)
		n := d.between(1, 3)
		at := make([]int, 0, n)
		for range n {
			at = append(at, d.IntN(max(span, 1)))
		}
		slices.Sort(at)
		for _, o := range at {
			when := start.AddDate(0, 0, o+1)
			if when.After(windowEnd) {
				continue
			}
			notes = append(notes, annotation{AuthorReference: me, Time: localDateTime(when, d.between(7*60, 22*60)), Text: d.text(phrases[p.lang].notes)})
		}
	}

	return &carePlan{
		ResourceType: "CarePlan", ID: id, Meta: generatedTag, Language: p.lang,
		// The responsible party (SIP: who holds overall responsibility) is the unit.
		Extension: []custodianExtension{{URL: custodianURL, ValueReference: org}},
		Contained: []any{careTeam{
			ResourceType: "CareTeam", ID: "team", Status: teamStatus, Name: fmt.Sprintf(w.team, p.fullName()), Subject: me,
			Period: period{Start: day(start)},
			Participant: []participant{
				{Role: []codeableConcept{{Coding: []coding{{System: "http://snomed.info/sct", Code: "116154003", Display: "Patient"}}, Text: w.patient}}, Member: me},
				{Role: []codeableConcept{{Coding: []coding{{System: base + "/CodeSystem/care-team-role", Code: "fixed-contact", Display: "Named fixed care contact"}}, Text: w.fixedContact}},
					Member: nurse, OnBehalfOf: &org},
				{Role: []codeableConcept{{Text: w.doctor}}, Member: doctor, OnBehalfOf: &org},
			},
			ManagingOrganization: []reference{org},
			Telecom:              []contactPoint{{System: "phone", Value: w.phone, Use: "work"}},
		}, own},
		Identifier: []identifier{{System: base + "/sid/careplan-id", Value: strings.ToUpper(id)}},
		Status:     status, Intent: "plan",
		Category: []codeableConcept{
			{Coding: []coding{{System: "http://hl7.org/fhir/us/core/CodeSystem/careplan-category", Code: "assess-plan", Display: "Assessment and Plan of Treatment"}}},
			{Coding: []coding{{System: base + "/CodeSystem/careplan-category", Code: "shared-care-plan", Display: "Shared care plan"}}},
		},
		Title:       t.plan.title,
		Description: fmt.Sprintf(w.description, strings.ToLower(t.plan.condition[:1])+t.plan.condition[1:], u.name, p.nurse.name, p.nurse.title),
		Subject:     me, Period: period{Start: day(start), End: day(end)},
		Created: localDateTime(start, d.between(8*60, 15*60)),
		Author:  nurse, Contributor: []reference{me, nurse, doctor},
		CareTeam:  []reference{{Reference: "#team"}},
		Addresses: []reference{{Reference: fmt.Sprintf("Condition/%s-c1", p.id), Display: t.plan.condition}},
		Goal:      goals, Activity: acts, Note: notes,
	}
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
