package winbind

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/sesame-auth/sesame/ntlm"
)

func TestEncodeRequest(t *testing.T) {
	r := &ntlm.ResponseToVerify{User: "ali\nce", Domain: "CORP", ServerChallenge: [8]byte{1, 2, 3, 4, 5, 6, 7, 8},
		NTResponse: []byte{0xaa, 0xbb}, LMResponse: nil}
	got := string(encodeRequest(r))
	want := "Username:: YWxpCmNl\nNT-Domain:: Q09SUA==\nLANMAN-Challenge: 0102030405060708\nNT-Response: aabb\nRequest-User-Session-Key: Yes\n.\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if strings.Count(got, "\n") != 6 {
		t.Fatal("a name's newline reached the wire")
	}
}

func TestReadAnswer(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want answer
		err  error
	}{
		{in: "Authenticated: Yes\nUser-Session-Key: 000102030405060708090A0B0C0D0E0F\n.\n",
			want: answer{authenticated: true, sessionKey: []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}}},
		{in: "Authenticated: No\nAuthentication-Error: Wrong Password\n.\n", want: answer{authError: "Wrong Password"}},
		{in: "Authenticated: No\n.\n", want: answer{}},
		{in: "Error: Unknown request Bogus\n.\n", want: answer{protoError: "Unknown request Bogus"}},
		{in: "Authentication-Error:: V3JvbmcNUGFzcw==\nAuthenticated: No\r\n.\r\n", want: answer{authError: "Wrong?Pass"}},
		{in: "Authenticated: Maybe\n.\n", err: ErrProtocol},
		{in: "User-Session-Key: 0001\n.\n", err: ErrProtocol},
		{in: "Authenticated Yes\n.\n", err: ErrProtocol},
		{in: "Authenticated: Yes\n", err: io.ErrUnexpectedEOF},
		{in: strings.Repeat("X: y\n", 20) + ".\n", err: ErrProtocol},
		{in: "X: " + strings.Repeat("y", 10000) + "\n.\n", err: ErrProtocol},
		{in: "Key:: !!!\n.\n", err: ErrProtocol},
	} {
		a, err := readAnswer(bufio.NewReaderSize(strings.NewReader(tc.in), 16))
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%q: err = %v, want %v", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if a.authenticated != tc.want.authenticated || !bytes.Equal(a.sessionKey, tc.want.sessionKey) ||
			a.authError != tc.want.authError || a.protoError != tc.want.protoError {
			t.Errorf("%q: got %+v, want %+v", tc.in, *a, tc.want)
		}
	}
}

func TestLooksLikeSID(t *testing.T) {
	for s, ok := range map[string]bool{
		"S-1-5-21-1694828465-1180312108-3888633339-1104": true, "S-1-5-32-545": true, "S-1-1-0": true,
		"S-1-": false, "S-1-5--1": false, "s-1-5-32": false, "--foo": false, "S-1-5-x": false,
	} {
		if looksLikeSID(s) != ok {
			t.Errorf("looksLikeSID(%q) = %v", s, !ok)
		}
	}
}

func FuzzReadAnswer(f *testing.F) {
	f.Add([]byte("Authenticated: Yes\nUser-Session-Key: 000102030405060708090A0B0C0D0E0F\n.\n"))
	f.Add([]byte("Authenticated: No\nAuthentication-Error: x\n.\n"))
	f.Add([]byte("Error:: eA==\n.\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReaderSize(bytes.NewReader(data), 16)
		for range 4 {
			a, err := readAnswer(r)
			if err != nil {
				return
			}
			if a.sessionKey != nil && len(a.sessionKey) != 16 {
				t.Fatalf("session key of %d bytes", len(a.sessionKey))
			}
			if len(a.authError) > 300 || len(a.protoError) > 300 {
				t.Fatal("unbounded message")
			}
		}
	})
}
