package generate

// The JSON shapes written. Structs rather than maps, so that members always come in the same
// order and the output is the same bytes for the same seed.

type coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

type codeableConcept struct {
	Coding []coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

type reference struct {
	Reference string `json:"reference"`
	Display   string `json:"display,omitempty"`
}

type identifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

type meta struct {
	Tag []coding `json:"tag"`
}

// generatedTag marks every generated resource, so that it can be told from real and fixture data.
var generatedTag = meta{Tag: []coding{{System: base + "/CodeSystem/data-origin", Code: "generated", Display: "Generated example data"}}}

type questionnaireResponse struct {
	ResourceType  string         `json:"resourceType"`
	ID            string         `json:"id"`
	Meta          meta           `json:"meta"`
	Language      string         `json:"language"`
	Extension     []refExtension `json:"extension,omitempty"`
	Identifier    identifier     `json:"identifier"`
	Questionnaire string         `json:"questionnaire"`
	Status        string         `json:"status"`
	Subject       reference      `json:"subject"`
	Encounter     reference      `json:"encounter"`
	Authored      string         `json:"authored"`
	Author        reference      `json:"author"`
	Source        reference      `json:"source"`
	Item          []*respItem    `json:"item,omitempty"`
}

// refExtension is an extension with a Reference value (the care unit).
type refExtension struct {
	URL            string         `json:"url"`
	ValueReference *unitReference `json:"valueReference,omitempty"`
}

// unitReference is a logical reference to a care unit: its identifier and name.
type unitReference struct {
	Identifier identifier `json:"identifier"`
	Display    string     `json:"display"`
}

type respItem struct {
	LinkID string      `json:"linkId"`
	Text   string      `json:"text,omitempty"`
	Answer []answer    `json:"answer,omitempty"`
	Item   []*respItem `json:"item,omitempty"`
}

type answer struct {
	ValueBoolean *bool   `json:"valueBoolean,omitempty"`
	ValueInteger *int    `json:"valueInteger,omitempty"`
	ValueString  *string `json:"valueString,omitempty"`
	ValueCoding  *coding `json:"valueCoding,omitempty"`
}

type period struct {
	Start string `json:"start"`
	End   string `json:"end,omitempty"`
}

type carePlan struct {
	ResourceType string               `json:"resourceType"`
	ID           string               `json:"id"`
	Meta         meta                 `json:"meta"`
	Language     string               `json:"language"`
	Extension    []custodianExtension `json:"extension"`
	Contained    []any                `json:"contained"`
	Identifier   []identifier         `json:"identifier"`
	Status       string               `json:"status"`
	Intent       string               `json:"intent"`
	Category     []codeableConcept    `json:"category"`
	Title        string               `json:"title"`
	Description  string               `json:"description"`
	Subject      reference            `json:"subject"`
	Period       period               `json:"period"`
	Created      string               `json:"created"`
	Author       reference            `json:"author"`
	Contributor  []reference          `json:"contributor"`
	CareTeam     []reference          `json:"careTeam"`
	Addresses    []reference          `json:"addresses"`
	Goal         []reference          `json:"goal"`
	Activity     []activity           `json:"activity"`
	Note         []annotation         `json:"note,omitempty"`
}

type careTeam struct {
	ResourceType         string         `json:"resourceType"`
	ID                   string         `json:"id"`
	Status               string         `json:"status"`
	Name                 string         `json:"name"`
	Subject              reference      `json:"subject"`
	Period               period         `json:"period"`
	Participant          []participant  `json:"participant"`
	ManagingOrganization []reference    `json:"managingOrganization"`
	Telecom              []contactPoint `json:"telecom"`
}

// custodianExtension is an extension whose value is a Reference (the custodian).
type custodianExtension struct {
	URL            string    `json:"url"`
	ValueReference reference `json:"valueReference"`
}

type contactPoint struct {
	System string `json:"system"`
	Value  string `json:"value"`
	Use    string `json:"use"`
}

// goal is a Goal contained in a care plan: the patient's own, expressed by them.
type goal struct {
	ResourceType    string          `json:"resourceType"`
	ID              string          `json:"id"`
	LifecycleStatus string          `json:"lifecycleStatus"`
	Description     codeableConcept `json:"description"`
	Subject         reference       `json:"subject"`
	ExpressedBy     reference       `json:"expressedBy"`
}

// custodianURL is the R5 CarePlan.custodian backport extension (docs/care-plans.md).
const custodianURL = "http://hl7.org/fhir/5.0/StructureDefinition/extension-CarePlan.custodian"

type participant struct {
	Role       []codeableConcept `json:"role"`
	Member     reference         `json:"member"`
	OnBehalfOf *reference        `json:"onBehalfOf,omitempty"`
}

type activity struct {
	Detail activityDetail `json:"detail"`
}

type activityDetail struct {
	Kind            string          `json:"kind"`
	Code            codeableConcept `json:"code"`
	Goal            []reference     `json:"goal,omitempty"`
	Status          string          `json:"status"`
	ScheduledTiming timing          `json:"scheduledTiming"`
	Location        *place          `json:"location,omitempty"`
	Performer       []reference     `json:"performer"`
	Description     string          `json:"description"`
}

type timing struct {
	Repeat timingRepeat `json:"repeat"`
}

type timingRepeat struct {
	BoundsPeriod period   `json:"boundsPeriod"`
	Frequency    int      `json:"frequency"`
	Period       int      `json:"period"`
	PeriodUnit   string   `json:"periodUnit"`
	TimeOfDay    []string `json:"timeOfDay,omitempty"`
}

// place is a location Reference with only a display, as the fixtures write one.
type place struct {
	Display string `json:"display"`
}

type annotation struct {
	AuthorReference reference `json:"authorReference"`
	Time            string    `json:"time"`
	Text            string    `json:"text"`
}
