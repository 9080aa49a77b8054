package search

import (
	"bytes"
	"encoding/json"

	"fmt"
	"slices"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// resourceSummary are the elements of Resource that R4 marks as summary: every resource has them.
var resourceSummary = []string{"id", "meta", "implicitRules"}

// summaryElements are, per served type, the top-level elements its R4 StructureDefinition
// flags isSummary, in definition order (differential of StructureDefinition-Questionnaire,
// -QuestionnaireResponse and -CarePlan). Not summary, among others: Questionnaire
// derivedFrom, description, purpose, copyright, approvalDate, lastReviewDate, item;
// QuestionnaireResponse item; CarePlan contributor, careTeam, supportingInfo, goal,
// activity, note.
var summaryElements = map[string][]string{
	"Questionnaire": {"url", "identifier", "version", "name", "title", "status", "experimental", "subjectType",
		"date", "publisher", "contact", "useContext", "jurisdiction", "effectivePeriod", "code"},
	"QuestionnaireResponse": {"identifier", "basedOn", "partOf", "questionnaire", "status", "subject",
		"encounter", "authored", "author", "source"},
	"CarePlan": {"identifier", "instantiatesCanonical", "instantiatesUri", "basedOn", "replaces", "partOf",
		"status", "intent", "category", "title", "description", "subject", "encounter", "period", "created",
		"author", "addresses"},
	// AuditEvent: agent, source and entity are not summary, though agent and source are
	// required (kept by _summary=text and _elements as mandatory elements).
	"AuditEvent": {"type", "subtype", "action", "recorded", "outcome", "outcomeDesc"},
}

// mandatoryElements are, per served type, the top-level elements with min 1 in R4.
var mandatoryElements = map[string][]string{
	"Questionnaire":         {"status"},
	"QuestionnaireResponse": {"status"},
	"CarePlan":              {"status", "intent", "subject"},
	"AuditEvent":            {"type", "recorded", "agent", "source"},
}

// SummaryElements returns the top-level elements of resourceType that FHIR R4 marks as
// summary (ElementDefinition.isSummary): those of Resource (id, meta, implicitRules) and then
// the type's own, in definition order. It is nil for a type the server does not serve.
func SummaryElements(resourceType string) []string {
	own, ok := summaryElements[resourceType]
	if !ok {
		return nil
	}
	return append(slices.Clone(resourceSummary), own...)
}

// MandatoryElements returns the top-level elements of resourceType that FHIR R4 requires
// (min 1): QuestionnaireResponse and Questionnaire status, CarePlan status, intent and
// subject. It is nil for a type the server does not serve.
func MandatoryElements(resourceType string) []string {
	return slices.Clone(mandatoryElements[resourceType])
}

// subsettedTag is the meta.tag a resource reduced by _summary or _elements carries (R4
// search.html, "Summary"): the client must not take it for the whole resource.
const subsettedTag = `{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED",` +
	`"display":"Resource encoded in summary mode"}`

// Shape returns the resource JSON raw reduced as _summary or _elements ask:
//
//   - SummaryTrue: resourceType and the summary elements (SummaryElements);
//   - SummaryText: resourceType, id, meta, text and the mandatory elements;
//   - SummaryData: everything but text;
//   - SummaryCount, SummaryFalse and "": raw itself, unless elements are given;
//   - elements (used when summary is "" or false): resourceType, id, meta, the listed
//     top-level elements and the mandatory elements.
//
// A primitive's extension member ("_status") goes with its element. Members keep their
// order and their bytes: values are copied, never decoded and encoded again, so numbers
// stay exactly as written. When anything was removed, meta.tag gains the SUBSETTED coding
// (once), meta being added after id when the resource has none. raw is a JSON object;
// anything else is an error.
func Shape(raw []byte, resourceType string, summary Summary, elements []string) ([]byte, error) {
	keep := map[string]bool{"resourceType": true}
	dropOnly := ""
	switch summary {
	case SummaryTrue:
		for _, e := range resourceSummary {
			keep[e] = true
		}
		for _, e := range summaryElements[resourceType] {
			keep[e] = true
		}
	case SummaryText:
		for _, e := range []string{"id", "meta", "text"} {
			keep[e] = true
		}
	case SummaryData:
		dropOnly = "text"
	default:
		if len(elements) == 0 {
			return raw, nil
		}
		for _, e := range append([]string{"id", "meta"}, elements...) {
			keep[e] = true
		}
	}
	for _, e := range mandatoryElements[resourceType] {
		keep[e] = true
	}
	members, err := fhir.SplitObject(raw)
	if err != nil {
		return nil, err
	}
	kept := func(key string) bool {
		base := key
		if len(key) > 1 && key[0] == '_' {
			base = key[1:]
		}
		if dropOnly != "" {
			return base != dropOnly
		}
		return keep[base]
	}
	removed := false
	metaAt, anchor := -1, -1
	for i, m := range members {
		if !kept(m.Key) {
			removed = true
			continue
		}
		switch m.Key {
		case "meta":
			metaAt = i
		case "resourceType":
			if anchor < 0 {
				anchor = i
			}
		case "id":
			anchor = i
		}
	}
	if !removed {
		return raw, nil
	}
	var out bytes.Buffer
	out.Grow(len(raw) + len(subsettedTag) + 16)
	out.WriteByte('{')
	n := 0
	writeMember := func(key, value []byte) {
		if n > 0 {
			out.WriteByte(',')
		}
		n++
		out.Write(key)
		out.WriteByte(':')
		out.Write(value)
	}
	if metaAt < 0 && anchor < 0 {
		writeMember([]byte(`"meta"`), []byte(`{"tag":[`+subsettedTag+`]}`))
	}
	for i, m := range members {
		if !kept(m.Key) {
			continue
		}
		value := m.Value
		if i == metaAt {
			if value, err = withSubsetted(value); err != nil {
				return nil, err
			}
		}
		writeMember(m.RawKey, value)
		if i == anchor && metaAt < 0 {
			writeMember([]byte(`"meta"`), []byte(`{"tag":[`+subsettedTag+`]}`))
		}
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

// withSubsetted returns the meta object with the SUBSETTED coding added to its tags, or as
// it is when the tag is there already.
func withSubsetted(meta []byte) ([]byte, error) {
	members, err := fhir.SplitObject(meta)
	if err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	var out bytes.Buffer
	out.WriteByte('{')
	tagged := false
	for i, m := range members {
		if i > 0 {
			out.WriteByte(',')
		}
		out.Write(m.RawKey)
		out.WriteByte(':')
		if m.Key != "tag" {
			out.Write(m.Value)
			continue
		}
		var tags []struct{ System, Code string }
		if err := json.Unmarshal(m.Value, &tags); err != nil {
			return nil, fmt.Errorf("meta.tag: %w", err)
		}
		for _, t := range tags {
			if t.System == "http://terminology.hl7.org/CodeSystem/v3-ObservationValue" && t.Code == "SUBSETTED" {
				return meta, nil
			}
		}
		arr := bytes.TrimSpace(m.Value)
		inner := bytes.TrimSpace(arr[1 : len(arr)-1])
		out.Write(arr[:len(arr)-1])
		if len(inner) > 0 {
			out.WriteByte(',')
		}
		out.WriteString(subsettedTag)
		out.WriteByte(']')
		tagged = true
	}
	if !tagged {
		if len(members) > 0 {
			out.WriteByte(',')
		}
		out.WriteString(`"tag":[` + subsettedTag + `]`)
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}
