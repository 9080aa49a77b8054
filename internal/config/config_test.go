package config

import (
	"strings"
	"testing"
)

func TestMongoURIFromEnvironmentIsNotAFlagDefault(t *testing.T) {
	env := func(k string) (string, bool) {
		if k == "MONGODB_URI" {
			return "mongodb://u:secret@db.example/", true
		}
		return "", false
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"environment applies", nil, "mongodb://u:secret@db.example/"},
		{"flag wins", []string{"--mongodb-uri", "mongodb://other/"}, "mongodb://other/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("serve", tc.args, env)
			if err != nil {
				t.Fatal(err)
			}
			if c.MongoURI != tc.want {
				t.Errorf("MongoURI %q, want %q", c.MongoURI, tc.want)
			}
			if r := c.Redacted(); strings.Contains(r, "secret") && tc.want != "mongodb://other/" {
				t.Errorf("Redacted %q shows the password", r)
			}
		})
	}
}
