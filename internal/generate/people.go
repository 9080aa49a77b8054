package generate

// The made-up people and places of generated data. Every name and organisation is fictional.

// staff is a practitioner of a care unit.
type staff struct {
	id, name, title string
}

func (s staff) ref() reference {
	return reference{Reference: "Practitioner/" + s.id, Display: s.name + ", " + s.title}
}

// unit is a care unit: where visits happen and care plans are kept.
type unit struct {
	slug, name string
	lang       string // da, sv or en
	nurses     []staff
	doctor     staff
	// id is the unit's identifier: a SOR code in Denmark, an HSA id in Sweden (made up).
	id identifier
	// quality shifts the experience its patients report (0 average, below 0 worse), and
	// trend changes it by so much a month over the year, so that units differ and move.
	quality, trend float64
}

// The identifier systems of care units: the Danish SOR (Sundhedsvæsenets
// Organisationsregister) and the Swedish HSA (Hälso- och sjukvårdens adressregister).
const (
	systemSOR = "urn:oid:1.2.208.176.1.1"
	systemHSA = "urn:oid:1.2.752.29.4.19"
)

// careUnit is the care-unit extension of a response answered about u.
func (u *unit) careUnit() refExtension {
	return refExtension{URL: base + "/StructureDefinition/care-unit", ValueReference: &unitReference{Identifier: u.id, Display: u.name}}
}

func (u *unit) org() reference {
	return reference{Reference: "Organization/gen-org-" + u.slug, Display: u.name}
}

var (
	unitHeart = &unit{slug: "nordby-hjerte", name: "Hjerteambulatoriet, Nordby Sygehus", lang: "da",
		nurses: []staff{{"gen-prac-birgitte-holm", "Birgitte Holm", "hjertesygeplejerske"}, {"gen-prac-lene-friis", "Lene Friis", "hjertesygeplejerske"}},
		doctor: staff{"gen-prac-soren-bech", "Søren Bech", "overlæge, kardiologi"}, id: identifier{systemSOR, "100000001001"}, quality: 0.25, trend: 0.01}
	unitDiabetes = &unit{slug: "nordby-diabetes", name: "Diabetesambulatoriet, Nordby Sygehus", lang: "da",
		nurses: []staff{{"gen-prac-camilla-dahl", "Camilla Dahl", "diabetessygeplejerske"}, {"gen-prac-trine-mortensen", "Trine Mortensen", "diabetessygeplejerske"}},
		doctor: staff{"gen-prac-henrik-lund", "Henrik Lund", "overlæge, endokrinologi"}, id: identifier{systemSOR, "100000001002"}, quality: 0.1, trend: 0.03}
	unitPsych = &unit{slug: "aastrup-psyk", name: "Psykiatrisk Ambulatorium, Åstrup", lang: "da",
		nurses: []staff{{"gen-prac-louise-thomsen", "Louise Thomsen", "sygeplejerske, psykiatri"}, {"gen-prac-jonas-kristensen", "Jonas Kristensen", "psykolog"}},
		doctor: staff{"gen-prac-marianne-olsen", "Marianne Olsen", "overlæge, psykiatri"}, id: identifier{systemSOR, "100000002001"}, quality: -0.15, trend: 0.02}
	unitOrtho = &unit{slug: "nordby-ortopaed", name: "Ortopædkirurgisk Ambulatorium, Nordby Sygehus", lang: "da",
		nurses: []staff{{"gen-prac-rikke-schmidt", "Rikke Schmidt", "sygeplejerske, ortopædi"}, {"gen-prac-mikkel-andersen", "Mikkel Andersen", "fysioterapeut"}},
		doctor: staff{"gen-prac-peter-molgaard", "Peter Mølgaard", "overlæge, ortopædkirurgi"}, id: identifier{systemSOR, "100000001003"}, quality: -0.35, trend: 0.04}
	unitEye = &unit{slug: "vestkyst-oeje", name: "Øjenambulatoriet, Vestkyst Sygehus", lang: "da",
		nurses: []staff{{"gen-prac-signe-bjerre", "Signe Bjerre", "sygeplejerske, øjenambulatoriet"}},
		doctor: staff{"gen-prac-anne-marie-krogh", "Anne-Marie Krogh", "overlæge, oftalmologi"}, id: identifier{systemSOR, "100000003001"}, quality: 0.35, trend: -0.02}
	unitHomeCare = &unit{slug: "nordby-hjemmesygepleje", name: "Hjemmesygeplejen, Nordby Kommune", lang: "da",
		nurses: []staff{{"gen-prac-dorthe-kjeldsen", "Dorthe Kjeldsen", "hjemmesygeplejerske"}, {"gen-prac-ulla-vestergaard", "Ulla Vestergaard", "hjemmesygeplejerske"}},
		doctor: staff{"gen-prac-niels-bruun", "Niels Bruun", "praktiserende læge"}, id: identifier{systemSOR, "100000004001"}, quality: 0, trend: 0}
	unitBjorkdalen = &unit{slug: "vc-bjorkdalen", name: "Vårdcentralen Björkdalen", lang: "sv",
		nurses: []staff{{"gen-prac-helena-sjoberg", "Helena Sjöberg", "distriktssköterska"}, {"gen-prac-johan-ek", "Johan Ek", "distriktssköterska"}},
		doctor: staff{"gen-prac-per-lundgren", "Per Lundgren", "specialist i allmänmedicin"}, id: identifier{systemHSA, "SE0000000000-VCBJ"}, quality: 0.05, trend: 0.01}
	unitSjostaden = &unit{slug: "vc-sjostaden", name: "Vårdcentralen Sjöstaden", lang: "sv",
		nurses: []staff{{"gen-prac-malin-fransson", "Malin Fransson", "distriktssköterska"}, {"gen-prac-sara-bergstrom", "Sara Bergström", "diabetessjuksköterska"}},
		doctor: staff{"gen-prac-olof-sandberg", "Olof Sandberg", "specialist i allmänmedicin"}, id: identifier{systemHSA, "SE0000000000-VCSJ"}, quality: -0.2, trend: 0.03}
	unitKidney = &unit{slug: "alvby-njur", name: "Njurmottagningen, Länssjukhuset Älvby", lang: "sv",
		nurses: []staff{{"gen-prac-ebba-lindberg", "Ebba Lindberg", "njursjuksköterska"}, {"gen-prac-linnea-hakansson", "Linnea Håkansson", "njursjuksköterska"}},
		doctor: staff{"gen-prac-gunnar-wallin", "Gunnar Wallin", "överläkare, njurmedicin"}, id: identifier{systemHSA, "SE0000000000-NJAL"}, quality: 0.2, trend: 0}
	// Two small clinics where few patients answer the experience survey: in a quarter they
	// usually have fewer responses than a report may publish.
	unitPain = &unit{slug: "nordby-smerte", name: "Smerteklinikken, Nordby Sygehus", lang: "da",
		nurses: []staff{{"gen-prac-kirsten-vang", "Kirsten Vang", "sygeplejerske, smerteklinik"}},
		doctor: staff{"gen-prac-ole-riis", "Ole Riis", "overlæge, anæstesiologi"}, id: identifier{systemSOR, "100000001004"}, quality: -0.5, trend: 0.02}
	unitHearing = &unit{slug: "vestkyst-hoere", name: "Høreklinikken, Vestkyst Sygehus", lang: "da",
		nurses: []staff{{"gen-prac-bente-lauridsen", "Bente Lauridsen", "audiologiassistent"}},
		doctor: staff{"gen-prac-karsten-hviid", "Karsten Hviid", "overlæge, audiologi"}, id: identifier{systemSOR, "100000003002"}, quality: 0.4, trend: 0}
	// unitInternational serves patients who live in Denmark and prefer English: they get the
	// LUP-style survey in its English translation.
	unitInternational = &unit{slug: "nordby-international", name: "International Patient Clinic, Nordby Hospital", lang: "en",
		nurses: []staff{{"gen-prac-kate-wilson", "Kate Wilson", "respiratory nurse"}, {"gen-prac-omar-haddad", "Omar Haddad", "respiratory nurse"}},
		doctor: staff{"gen-prac-ruth-evans", "Ruth Evans", "consultant, respiratory medicine"}, id: identifier{systemSOR, "100000001005"}, quality: 0.15, trend: 0.01}
)

// smallUnits are the small clinics a Danish experience survey is now and then about.
var smallUnits = []*unit{unitPain, unitHearing}

// track is what a patient is followed for: the care unit, the surveys they get and the
// shared care plan they usually have.
type track struct {
	key    string
	weight float64
	unit   *unit
	// surveyUnits are where the experience survey (LUP-style or Swedish primary care) is
	// answered after a visit; the first is the most common.
	surveyUnits []*unit
	// psych patients answer PHQ-9 and GAD-7 at each follow-up.
	psych bool
	// carePlan is the chance of having a shared care plan; proxy the chance that a relative
	// answers for the patient.
	carePlan, proxy float64
	plan            planText
}

// planText is the condition-specific wording of a shared care plan.
type planText struct {
	condition   string
	title       string
	goals       []string
	monitor     activityText // what the patient does at home
	extra       activityText // one more activity, with the unit
	course      course       // when the extra activity happens
	homeVisits  bool
	monitorFreq [2]int // times per period; the period in days (1: daily, 7: weekly)
}

// activityText is an activity's name and what it means for the patient.
type activityText struct {
	code, description string
}

// course is how long the extra activity runs, in weeks (52: all year), and how often: perWeek
// times a week or, when perWeek is 0, once every everyWeeks weeks.
type course struct {
	weeks, perWeek, everyWeeks int
}

var tracks = []*track{
	{key: "hf", weight: 13, unit: unitHeart, surveyUnits: []*unit{unitHeart}, carePlan: 0.9, proxy: 0.05, plan: planText{
		condition: "Kronisk hjertesvigt", title: "Min fælles plan – hjertesvigt",
		goals:   []string{"Stabil vægt og ingen indlæggelser pga. væskeophobning", "Gå en tur på mindst 20 minutter hver dag", "Kunne klare indkøb og havearbejde selv"},
		monitor: activityText{"Daglig vejning og måling af blodtryk", "Vej dig hver morgen efter toiletbesøg og før morgenmad, og skriv vægt og blodtryk ind i appen. Tager du mere end 2 kg på i løbet af tre dage, så ring til din kontaktperson."},
		extra:   activityText{"Hjerterehabilitering på hold", "Træning to gange om ugen i tolv uger sammen med andre med hjertesygdom, med en fysioterapeut og en sygeplejerske."}, course: course{12, 2, 0},
		homeVisits: true, monitorFreq: [2]int{1, 1}}},
	{key: "dm", weight: 13, unit: unitDiabetes, surveyUnits: []*unit{unitDiabetes}, carePlan: 0.85, proxy: 0.02, plan: planText{
		condition: "Type 2-diabetes", title: "Min fælles plan – diabetes",
		goals:   []string{"Langtidsblodsukker (HbA1c) under 53 mmol/mol", "Ingen sår på fødderne", "Motion 30 minutter fem dage om ugen"},
		monitor: activityText{"Måling af blodsukker", "Mål blodsukker før morgenmad tre dage om ugen og skriv tallene ind i appen. Ligger det over 15 mmol/l to dage i træk, så kontakt din kontaktperson."},
		extra:   activityText{"Årsstatus og fodterapi", "En gang om året gennemgår vi blodprøver, øjne, fødder og medicin sammen med dig. Fodterapeuten ser dine fødder hver tredje måned."}, course: course{52, 0, 52},
		monitorFreq: [2]int{3, 7}}},
	{key: "psych-dk", weight: 9, unit: unitPsych, surveyUnits: []*unit{unitPsych}, psych: true, carePlan: 0.7, plan: planText{
		condition: "Moderat depression", title: "Min fælles plan – på vej ud af depressionen",
		goals:   []string{"Sove mindst seks timer de fleste nætter", "Tilbage på arbejde på nedsat tid", "Se venner mindst en gang om ugen"},
		monitor: activityText{"Stemningsdagbog", "Skriv hver aften i appen, hvordan dagen har været, hvor meget du har sovet, og hvad du har lavet. Vi kigger på det sammen til samtalerne."},
		extra:   activityText{"Samtaleforløb", "Ti samtaler hos psykologen med fokus på tanker, søvn og aktiviteter i hverdagen."}, course: course{20, 0, 2},
		monitorFreq: [2]int{1, 1}}},
	{key: "ortho", weight: 10, unit: unitOrtho, surveyUnits: []*unit{unitOrtho}, carePlan: 0.6, proxy: 0.05, plan: planText{
		condition: "Slidgigt i hoften, efter ny hofte", title: "Min fælles plan – genoptræning efter ny hofte",
		goals:   []string{"Gå uden krykker inden for otte uger", "Kunne gå op og ned ad trapper", "Tilbage til cykling i sommer"},
		monitor: activityText{"Hjemmeøvelser", "Lav øvelserne fra træningsprogrammet to gange om dagen og noter i appen, hvor ondt det gør bagefter på en skala fra 0 til 10."},
		extra:   activityText{"Genoptræning hos fysioterapeut", "Træning to gange om ugen i seks uger, derefter en opfølgning efter tre måneder."}, course: course{6, 2, 0},
		monitorFreq: [2]int{2, 1}}},
	{key: "eye", weight: 7, unit: unitEye, surveyUnits: []*unit{unitEye}, carePlan: 0.3, proxy: 0.1, plan: planText{
		condition: "Våd aldersrelateret makuladegeneration", title: "Min fælles plan – behandling for våd AMD",
		goals:   []string{"Bevare synet, så jeg fortsat kan læse avisen", "Komme til alle indsprøjtninger til tiden"},
		monitor: activityText{"Egenkontrol med Amsler-kort", "Se på Amsler-kortet med hvert øje for sig en gang om ugen. Bliver linjerne bølgede eller mangler der felter, så ring samme dag."},
		extra:   activityText{"Indsprøjtning i øjet", "Behandling med indsprøjtning ca. hver sjette uge; afstanden tilpasses, når synet er stabilt."}, course: course{52, 0, 6},
		monitorFreq: [2]int{1, 7}}},
	{key: "multi", weight: 8, unit: unitHomeCare, surveyUnits: []*unit{unitHeart, unitOrtho}, carePlan: 0.95, proxy: 0.45, plan: planText{
		condition: "Flere kroniske sygdomme (hjertesvigt, KOL og nedsat nyrefunktion)", title: "Min fælles plan – hverdagen derhjemme",
		goals:   []string{"Blive boende i eget hjem", "Ingen fald i det kommende år", "Én samlet medicinliste, som alle bruger"},
		monitor: activityText{"Vejning og medicin fra doseringsæske", "Vej dig hver morgen og tag medicinen fra doseringsæsken. Hjemmeplejen tjekker æsken, når de kommer."},
		extra:   activityText{"Samlet medicingennemgang", "Egen læge, hjemmesygeplejen og sygehuset gennemgår medicinen sammen med dig og din pårørende hvert halve år."}, course: course{52, 0, 26},
		homeVisits: true, monitorFreq: [2]int{1, 1}}},
	{key: "copd", weight: 10, unit: unitBjorkdalen, surveyUnits: []*unit{unitBjorkdalen}, carePlan: 0.85, proxy: 0.05, plan: planText{
		condition: "Kroniskt obstruktiv lungsjukdom (KOL)", title: "Min gemensamma vårdplan – KOL",
		goals:   []string{"Högst en försämringsperiod per år", "Kunna gå till affären själv", "Fortsatt rökfri"},
		monitor: activityText{"Egenmätning av syremättnad", "Mät syremättnad och puls varje morgen i vila och för in värdet i appen. Ligger mättnaden under 90 % två dagar i rad, följ din försämringsplan och ring din vårdkontakt."},
		extra:   activityText{"Andnings- och konditionsträning", "Träning i grupp med fysioterapeut två gånger i veckan under tio veckor, sedan egen träning hemma."}, course: course{10, 2, 0},
		homeVisits: true, monitorFreq: [2]int{1, 1}}},
	{key: "ckd", weight: 8, unit: unitKidney, surveyUnits: []*unit{unitSjostaden, unitBjorkdalen}, carePlan: 0.85, proxy: 0.05, plan: planText{
		condition: "Kronisk njursjukdom, stadium 3b", title: "Min gemensamma vårdplan – njurarna",
		goals:   []string{"Blodtryck under 130/80", "Bromsa försämringen av njurfunktionen", "Orka arbeta halvtid"},
		monitor: activityText{"Blodtrycksmätning hemma", "Mät blodtrycket morgon och kväll tre dagar i veckan och för in värdena i appen."},
		extra:   activityText{"Kostrådgivning", "Två samtal med dietist om salt, protein och kalium, med uppföljning efter ett halvår."}, course: course{26, 0, 13},
		monitorFreq: [2]int{3, 7}}},
	{key: "dm-se", weight: 10, unit: unitSjostaden, surveyUnits: []*unit{unitSjostaden}, carePlan: 0.8, proxy: 0.02, plan: planText{
		condition: "Typ 2-diabetes", title: "Min gemensamma vårdplan – diabetes",
		goals:   []string{"HbA1c under 52 mmol/mol", "Gå ner fem kilo i vikt", "Inga fotsår"},
		monitor: activityText{"Blodsockermätning", "Mät blodsockret före frukost tre dagar i veckan och för in värdena i appen."},
		extra:   activityText{"Årskontroll", "En gång om året går vi tillsammans igenom prover, ögon, fötter och läkemedel."}, course: course{52, 0, 52},
		monitorFreq: [2]int{3, 7}}},
	{key: "psych-se", weight: 7, unit: unitSjostaden, surveyUnits: []*unit{unitSjostaden}, psych: true, carePlan: 0.6, plan: planText{
		condition: "Depression och ångest", title: "Min gemensamma vårdplan – må bättre",
		goals:   []string{"Sova bättre", "Gå tillbaka till arbetet på deltid", "Träffa vänner varje vecka"},
		monitor: activityText{"Måendedagbok", "Skriv varje kväll i appen hur dagen har varit, hur du har sovit och vad du har gjort."},
		extra:   activityText{"KBT-samtal", "Åtta samtal med kurator med fokus på sömn, oro och aktiviteter i vardagen."}, course: course{16, 0, 2},
		monitorFreq: [2]int{1, 1}}},
	{key: "hf-se", weight: 5, unit: unitBjorkdalen, surveyUnits: []*unit{unitBjorkdalen}, carePlan: 0.8, proxy: 0.1, plan: planText{
		condition: "Hjärtsvikt", title: "Min gemensamma vårdplan – hjärtsvikt",
		goals:   []string{"Stabil vikt och inga inläggningar", "Promenera 20 minuter varje dag"},
		monitor: activityText{"Daglig vägning", "Väg dig varje morgen och för in vikten i appen. Ökar vikten mer än 2 kg på tre dagar, ring din vårdkontakt."},
		extra:   activityText{"Läkemedelsgenomgång", "Genomgång av alla läkemedel tillsammans med läkare och sjuksköterska två gånger per år."}, course: course{52, 0, 26},
		homeVisits: true, monitorFreq: [2]int{1, 1}}},
	{key: "asthma-en", weight: 4, unit: unitInternational, surveyUnits: []*unit{unitInternational}, carePlan: 0.8, proxy: 0.02, plan: planText{
		condition: "Asthma, moderate", title: "My shared care plan – asthma",
		goals:   []string{"No night-time symptoms", "No asthma attacks needing the emergency department", "Back to running twice a week"},
		monitor: activityText{"Peak flow and symptom diary", "Measure your peak flow every morning before your inhaler and note it in the app with any symptoms. Below your action plan's yellow zone two days in a row, follow the plan and call your care contact."},
		extra:   activityText{"Asthma review", "Every three months we go through your diary, your inhaler technique and your action plan with you."}, course: course{52, 0, 13},
		monitorFreq: [2]int{1, 1}}},
}

// Given names and family names, by language. The first half of each list of given names is
// female, the second male.
var (
	givenNames = map[string][]string{
		"da": {"Anne", "Mette", "Hanne", "Susanne", "Lone", "Camilla", "Louise", "Maria", "Kirsten", "Birgitte", "Karen", "Inge", "Ida", "Emma", "Freja", "Signe",
			"Jens", "Peter", "Lars", "Søren", "Henrik", "Niels", "Anders", "Mads", "Rasmus", "Jonas", "Mikkel", "Thomas", "Martin", "Poul", "Bent", "Erik"},
		"sv": {"Anna", "Eva", "Maria", "Karin", "Kristina", "Lena", "Sara", "Ingrid", "Elin", "Sofia", "Maja", "Astrid", "Linnea", "Ebba", "Stina", "Hanna",
			"Erik", "Lars", "Karl", "Anders", "Johan", "Per", "Nils", "Mikael", "Olof", "Gustav", "Oskar", "Bengt", "Gunnar", "Emil", "Sven", "Göran"},
		"en": {"Olivia", "Emily", "Sarah", "Jessica", "Laura", "Rachel", "Hannah", "Sophie", "Amira", "Priya", "Grace", "Chloe", "Megan", "Lucy", "Ava", "Zoe",
			"James", "Daniel", "Thomas", "David", "Michael", "Ahmed", "Ravi", "Samuel", "Oliver", "Jack", "Liam", "Ethan", "Noah", "George", "Luke", "Adam"},
	}
	familyNames = map[string][]string{
		"da": {"Nielsen", "Jensen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen", "Rasmussen", "Jørgensen", "Petersen", "Madsen",
			"Kristensen", "Olsen", "Thomsen", "Poulsen", "Johansen", "Møller", "Mortensen", "Lund", "Holm", "Frederiksen", "Laursen", "Bach"},
		"sv": {"Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Svensson", "Gustafsson", "Pettersson", "Jonsson",
			"Lindberg", "Lindqvist", "Berg", "Holm", "Bergström", "Lundgren", "Wikström", "Nyberg", "Holmgren", "Sjöberg", "Axelsson", "Hedlund"},
		"en": {"Smith", "Brown", "Wilson", "Taylor", "Johnson", "Walker", "Wright", "Robinson", "Thompson", "White", "Hughes", "Edwards",
			"Green", "Hall", "Wood", "Clarke", "Patel", "Khan", "Murphy", "Kelly", "O'Brien", "Campbell", "Stewart", "Martin"},
	}
	// relation names how a relative who answers for a patient is related: daughter, son.
	relation = map[string][2]string{"da": {"datter til", "søn til"}, "sv": {"dotter till", "son till"}, "en": {"daughter of", "son of"}}
)
