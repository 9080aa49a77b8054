package search

import "testing"

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"already folded", "phq-9 depression", "phq-9 depression"},
		{"upper case", "PHQ-9 Depression", "phq-9 depression"},
		{"danish letters without decomposition", "Ærø Å Öst  Ü", "ærø a ost u"},
		{"danish place", "Københavns Universitetshospital", "københavns universitetshospital"},
		{"swedish", "Åsa Öberg, Västerås", "asa oberg, vasteras"},
		{"swedish upper", "ÄNGELHOLM SJUKHUS", "angelholm sjukhus"},
		{"german sharp s has no decomposition", "Grüße aus Düsseldorf", "gruße aus dusseldorf"},
		{"french", "Élodie Crème Brûlée", "elodie creme brulee"},
		{"decomposed input", "A\u030angstro\u0308m", "angstrom"},
		{"leading and trailing space", "  Lars Nielsen \t", "lars nielsen"},
		{"white space runs", "a\t\tb\n\nc  d", "a b c d"},
		{"non-breaking space", "Anna\u00a0Jensen", "anna jensen"},
		{"only space", " \t\n ", ""},
		{"dotted capital I", "İstanbul", "istanbul"},
		{"digits and punctuation kept", "GAD-7 (v2.0)", "gad-7 (v2.0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Normalize(tt.in); got != tt.want {
				t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeIsIdempotent(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"Ærø Å Öst  Ü", "  Élodie\tCrème ", "ÄNGELHOLM", "plain"} {
		once := Normalize(s)
		if twice := Normalize(once); twice != once {
			t.Errorf("Normalize(Normalize(%q)) = %q, want %q", s, twice, once)
		}
	}
}

func BenchmarkNormalize(b *testing.B) {
	for _, s := range []string{"patient health questionnaire", "Ærø Å Öst Ü Västerås"} {
		b.Run(s, func(b *testing.B) {
			for b.Loop() {
				Normalize(s)
			}
		})
	}
}
