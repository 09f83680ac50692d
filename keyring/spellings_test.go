package keyring

import (
	"slices"
	"testing"
)

func TestSpellings(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`corp\ALICE`, []string{`corp\ALICE`, `CORP\alice`, `CORP\ALICE`, `corp\alice`}},
		{`CORP\alice`, []string{`CORP\alice`, `corp\alice`}},
		{`Alice@corp.test`, []string{`Alice@corp.test`, `alice@CORP.TEST`, `alice@corp.test`}},
		{`alice`, []string{`alice`}},
		{`Alice`, []string{`Alice`, `alice`}},
	} {
		if got := spellings(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("spellings(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
