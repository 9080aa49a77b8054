package report

import (
	"fmt"
	"io"
	"time"
)

// The forms a report is written in.
const (
	FormatJSON = "json" // a FHIR R4 MeasureReport
	FormatCSV  = "csv"
	FormatHTML = "html" // the printable page
)

// Write writes the report in format (FormatJSON, FormatCSV or FormatHTML), dates in loc.
func (r *Report) Write(w io.Writer, format string, loc *time.Location) error {
	switch format {
	case FormatCSV:
		return r.WriteCSV(w, loc)
	case FormatHTML:
		return r.WriteHTML(w, loc)
	case FormatJSON:
		body, err := r.MeasureReport(loc)
		if err != nil {
			return err
		}
		_, err = w.Write(body)
		return err
	}
	return fmt.Errorf("report: no format %q (json, csv, html)", format)
}
