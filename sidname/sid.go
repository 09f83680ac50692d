package sidname

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// maxSubAuthorities is the most sub-authorities a SID has (MS-DTYP 2.4.2).
const maxSubAuthorities = 15

// ParseSID parses a textual SID ("S-1-5-21-1-2-3-1104") into its binary
// form (MS-DTYP 2.4.2.2), as stored in objectSid. The authority may be
// decimal or, as MS-DTYP allows above 2^32, hexadecimal ("0x…").
func ParseSID(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(s, "S-")
	if !ok {
		rest, ok = strings.CutPrefix(s, "s-")
	}
	if !ok || len(s) > 256 {
		return nil, fmt.Errorf("%w: %q", ErrMalformedSID, trunc(s))
	}
	parts := strings.Split(rest, "-")
	if len(parts) < 2 || len(parts)-2 > maxSubAuthorities {
		return nil, fmt.Errorf("%w: %q: want S-1-authority[-sub]… with at most %d sub-authorities", ErrMalformedSID, trunc(s), maxSubAuthorities)
	}
	if parts[0] != "1" {
		return nil, fmt.Errorf("%w: %q: revision %s, want 1", ErrMalformedSID, trunc(s), trunc(parts[0]))
	}
	var auth uint64
	var err error
	if h, isHex := strings.CutPrefix(strings.ToLower(parts[1]), "0x"); isHex {
		auth, err = strconv.ParseUint(h, 16, 48)
	} else {
		auth, err = strconv.ParseUint(parts[1], 10, 48)
	}
	if err != nil || !digits(strings.TrimPrefix(strings.ToLower(parts[1]), "0x")) {
		return nil, fmt.Errorf("%w: %q: bad authority", ErrMalformedSID, trunc(s))
	}
	b := make([]byte, 8, 8+4*(len(parts)-2))
	b[0] = 1
	b[1] = byte(len(parts) - 2)
	for i := range 6 {
		b[2+i] = byte(auth >> (8 * (5 - i)))
	}
	for _, p := range parts[2:] {
		v, err := strconv.ParseUint(p, 10, 32)
		if err != nil || !digits(p) {
			return nil, fmt.Errorf("%w: %q: bad sub-authority", ErrMalformedSID, trunc(s))
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	return b, nil
}

// FormatSID formats a binary SID as text, the inverse of ParseSID:
// the authority in decimal below 2^32 and in hexadecimal above, as
// Windows does.
func FormatSID(b []byte) (string, error) {
	if len(b) < 8 || b[0] != 1 || int(b[1]) > maxSubAuthorities || len(b) != 8+4*int(b[1]) {
		return "", fmt.Errorf("%w: %d bytes", ErrMalformedSID, len(b))
	}
	var auth uint64
	for _, x := range b[2:8] {
		auth = auth<<8 | uint64(x)
	}
	var sb strings.Builder
	sb.WriteString("S-1-")
	if auth >= 1<<32 {
		fmt.Fprintf(&sb, "0x%012X", auth)
	} else {
		sb.WriteString(strconv.FormatUint(auth, 10))
	}
	for i := range int(b[1]) {
		sb.WriteByte('-')
		sb.WriteString(strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10))
	}
	return sb.String(), nil
}

// CanonicalSID returns s as FormatSID spells it ("s-1-5-032" is
// "S-1-5-32"), so SIDs can be compared as strings.
func CanonicalSID(s string) (string, error) {
	b, err := ParseSID(s)
	if err != nil {
		return "", err
	}
	return FormatSID(b)
}

// digits reports whether s is non-empty and all hex or decimal digits
// (strconv accepts "+" and "_" in places; a SID does not).
func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
