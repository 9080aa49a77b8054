package fhir

import (
	"encoding/json"
	"errors"
)

// IssueSeverity is OperationOutcome.issue.severity.
type IssueSeverity string

// The issue severities (http://hl7.org/fhir/ValueSet/issue-severity).
const (
	SeverityFatal       IssueSeverity = "fatal"
	SeverityError       IssueSeverity = "error"
	SeverityWarning     IssueSeverity = "warning"
	SeverityInformation IssueSeverity = "information"
)

// IssueType is OperationOutcome.issue.code (http://hl7.org/fhir/ValueSet/issue-type).
type IssueType string

// The issue types the server uses.
const (
	IssueInvalid         IssueType = "invalid"
	IssueStructure       IssueType = "structure"
	IssueRequired        IssueType = "required"
	IssueValue           IssueType = "value"
	IssueCodeInvalid     IssueType = "code-invalid"
	IssueNotFound        IssueType = "not-found"
	IssueDeleted         IssueType = "deleted"
	IssueConflict        IssueType = "conflict"
	IssueMultipleMatches IssueType = "multiple-matches"
	IssueNotSupported    IssueType = "not-supported"
	IssueTooLong         IssueType = "too-long"
	IssueLogin           IssueType = "login"
	IssueForbidden       IssueType = "forbidden"
	IssueProcessing      IssueType = "processing"
	IssueTransient       IssueType = "transient"
	IssueException       IssueType = "exception"
	IssueInformational   IssueType = "informational"
	IssueBusinessRule    IssueType = "business-rule"
	IssueIncomplete      IssueType = "incomplete"
	IssueThrottled       IssueType = "throttled"
	IssueTooCostly       IssueType = "too-costly"
	IssueInvariant       IssueType = "invariant"
)

// Issue is one OperationOutcome.issue.
type Issue struct {
	Severity    IssueSeverity `json:"severity"`
	Code        IssueType     `json:"code"`
	Diagnostics string        `json:"diagnostics,omitempty"`
	Expression  []string      `json:"expression,omitempty"`
}

// OperationOutcome is the FHIR resource that reports errors and information to clients.
type OperationOutcome struct {
	ResourceType string  `json:"resourceType"`
	ID           string  `json:"id,omitempty"`
	Issue        []Issue `json:"issue"`
}

// NewOperationOutcome returns an OperationOutcome with the given issues.
func NewOperationOutcome(issues ...Issue) *OperationOutcome {
	return &OperationOutcome{ResourceType: "OperationOutcome", Issue: issues}
}

// OutcomeFor turns any error into the OperationOutcome a client may see. Errors that are not
// domain errors, and internal ones, say only that the server failed: their detail belongs in
// the log.
func OutcomeFor(err error) *OperationOutcome {
	var e *Error
	if !errors.As(err, &e) || e.Kind == KindInternal || len(e.Issues) == 0 {
		msg := "The server could not complete the request; the failure has been logged."
		if e != nil && e.Kind != KindInternal {
			msg = string(e.Kind.IssueCode())
		}
		return NewOperationOutcome(Issue{Severity: SeverityError, Code: IssueException, Diagnostics: msg})
	}
	return NewOperationOutcome(e.Issues...)
}

// JSON encodes the outcome.
func (o *OperationOutcome) JSON() []byte {
	b, _ := json.Marshal(o) // a struct of strings cannot fail to encode
	return b
}
