package config

import (
	"strings"
	"testing"
)

func TestTimeZone(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		want    string
		wantErr string
	}{
		{"default", nil, nil, "UTC", ""},
		{"from the environment", nil, map[string]string{"FHIR_TIMEZONE": "Europe/Copenhagen"}, "Europe/Copenhagen", ""},
		{"flag wins", []string{"-timezone", "Europe/Stockholm"}, map[string]string{"FHIR_TIMEZONE": "Europe/Copenhagen"}, "Europe/Stockholm", ""},
		{"unknown zone", []string{"-timezone", "Mars/Olympus"}, nil, "", "time zone \"Mars/Olympus\""},
		{"the host's zone is not a setting", []string{"-timezone", "Local"}, nil, "", "time zone \"Local\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("fhir-server", tc.args, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Location == nil || c.Location.String() != tc.want {
				t.Errorf("Location = %v, want %s", c.Location, tc.want)
			}
		})
	}
}
