package ntlm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

// AVID identifies an AV pair in a TargetInfo list (MS-NLMP 2.2.2.1).
type AVID uint16

// The AV pair identifiers.
const (
	AvEOL             AVID = 0x0000 // MsvAvEOL: end of the list
	AvNbComputerName  AVID = 0x0001 // MsvAvNbComputerName
	AvNbDomainName    AVID = 0x0002 // MsvAvNbDomainName
	AvDNSComputerName AVID = 0x0003 // MsvAvDnsComputerName
	AvDNSDomainName   AVID = 0x0004 // MsvAvDnsDomainName
	AvDNSTreeName     AVID = 0x0005 // MsvAvDnsTreeName
	AvFlags           AVID = 0x0006 // MsvAvFlags
	AvTimestamp       AVID = 0x0007 // MsvAvTimestamp (FILETIME)
	AvSingleHost      AVID = 0x0008 // MsvAvSingleHost (Single_Host_Data)
	AvTargetName      AVID = 0x0009 // MsvAvTargetName (SPN, UTF-16)
	AvChannelBindings AVID = 0x000a // MsvAvChannelBindings (MD5 hash)
)

// Bits of the MsvAvFlags value.
const (
	AvFlagConstrained  uint32 = 0x1 // account authentication is constrained
	AvFlagMICPresent   uint32 = 0x2 // the AUTHENTICATE message carries a MIC
	AvFlagUntrustedSPN uint32 = 0x4 // the SPN came from an untrusted source
)

var avNames = map[AVID]string{
	AvEOL: "MsvAvEOL", AvNbComputerName: "MsvAvNbComputerName", AvNbDomainName: "MsvAvNbDomainName",
	AvDNSComputerName: "MsvAvDnsComputerName", AvDNSDomainName: "MsvAvDnsDomainName",
	AvDNSTreeName: "MsvAvDnsTreeName", AvFlags: "MsvAvFlags", AvTimestamp: "MsvAvTimestamp",
	AvSingleHost: "MsvAvSingleHost", AvTargetName: "MsvAvTargetName", AvChannelBindings: "MsvAvChannelBindings",
}

// String returns the MS-NLMP name of the AV pair identifier.
func (id AVID) String() string {
	if n, ok := avNames[id]; ok {
		return n
	}
	return fmt.Sprintf("MsvAv(0x%04x)", uint16(id))
}

// maxAVPairs bounds the number of pairs in one list; Windows sends about ten.
const maxAVPairs = 64

// AVPair is one attribute-value pair of a TargetInfo list.
type AVPair struct {
	ID    AVID
	Value []byte
}

// TargetInfo is an AV pair list in wire order, without the terminating
// MsvAvEOL (which Marshal adds). The order is kept because the NTLMv2 proof
// covers the list exactly as sent.
type TargetInfo []AVPair

// ParseTargetInfo decodes an AV pair list. The list must end with MsvAvEOL;
// bytes after it are ignored, as Windows pads the blob after the list.
func ParseTargetInfo(b []byte) (TargetInfo, error) {
	var ti TargetInfo
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("%w: truncated AV pair header", ErrMalformed)
		}
		id := AVID(binary.LittleEndian.Uint16(b))
		n := int(binary.LittleEndian.Uint16(b[2:]))
		if len(b)-4 < n {
			return nil, fmt.Errorf("%w: %v of length %d runs past the list", ErrMalformed, id, n)
		}
		if id == AvEOL {
			if n != 0 {
				return nil, fmt.Errorf("%w: MsvAvEOL with length %d", ErrMalformed, n)
			}
			return ti, nil
		}
		if len(ti) == maxAVPairs {
			return nil, fmt.Errorf("%w: more than %d AV pairs", ErrMalformed, maxAVPairs)
		}
		if err := checkAVLength(id, n); err != nil {
			return nil, err
		}
		ti = append(ti, AVPair{ID: id, Value: bytes.Clone(b[4 : 4+n])})
		b = b[4+n:]
	}
	return nil, fmt.Errorf("%w: AV pair list without MsvAvEOL", ErrMalformed)
}

func checkAVLength(id AVID, n int) error {
	want := -1
	switch id {
	case AvFlags:
		want = 4
	case AvTimestamp:
		want = 8
	case AvChannelBindings:
		want = 16
	}
	if want >= 0 && n != want {
		return fmt.Errorf("%w: %v has length %d, want %d", ErrMalformed, id, n, want)
	}
	if id == AvSingleHost && n < 8 {
		return fmt.Errorf("%w: %v has length %d, want at least 8", ErrMalformed, id, n)
	}
	return nil
}

// Marshal encodes the list followed by MsvAvEOL.
func (ti TargetInfo) Marshal() []byte {
	n := 4
	for _, p := range ti {
		n += 4 + len(p.Value)
	}
	b := make([]byte, 0, n)
	for _, p := range ti {
		b = binary.LittleEndian.AppendUint16(b, uint16(p.ID))
		b = binary.LittleEndian.AppendUint16(b, uint16(len(p.Value)))
		b = append(b, p.Value...)
	}
	return append(b, 0, 0, 0, 0)
}

// Get returns the value of the first pair with the given id.
func (ti TargetInfo) Get(id AVID) ([]byte, bool) {
	for _, p := range ti {
		if p.ID == id {
			return p.Value, true
		}
	}
	return nil, false
}

// String returns a string-valued pair (the names and the SPN, which are
// always UTF-16LE), or "" if absent.
func (ti TargetInfo) String(id AVID) string {
	v, ok := ti.Get(id)
	if !ok {
		return ""
	}
	s, err := decodeString(v, true)
	if err != nil {
		return ""
	}
	return s
}

// Flags returns the MsvAvFlags value, 0 if absent.
func (ti TargetInfo) Flags() uint32 {
	if v, ok := ti.Get(AvFlags); ok && len(v) == 4 {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

// Timestamp returns MsvAvTimestamp as a FILETIME and as a time.
func (ti TargetInfo) Timestamp() (uint64, time.Time, bool) {
	v, ok := ti.Get(AvTimestamp)
	if !ok || len(v) != 8 {
		return 0, time.Time{}, false
	}
	ft := binary.LittleEndian.Uint64(v)
	return ft, FileTimeToTime(ft), true
}

// set replaces the first pair with id, or appends one.
func (ti TargetInfo) set(id AVID, value []byte) TargetInfo {
	for i := range ti {
		if ti[i].ID == id {
			ti[i].Value = value
			return ti
		}
	}
	return append(ti, AVPair{ID: id, Value: value})
}

// Clone returns a deep copy.
func (ti TargetInfo) Clone() TargetInfo {
	out := make(TargetInfo, len(ti))
	for i, p := range ti {
		out[i] = AVPair{ID: p.ID, Value: bytes.Clone(p.Value)}
	}
	return out
}

// fileTimeEpoch is 1601-01-01 in Unix seconds; FILETIME counts 100 ns ticks
// from there.
const fileTimeEpochDelta = 11644473600

// TimeToFileTime converts t to a Windows FILETIME.
func TimeToFileTime(t time.Time) uint64 {
	return uint64(t.Unix()+fileTimeEpochDelta)*1e7 + uint64(t.Nanosecond()/100)
}

// FileTimeToTime converts a Windows FILETIME to a time.
func FileTimeToTime(ft uint64) time.Time {
	sec := int64(ft/1e7) - fileTimeEpochDelta
	return time.Unix(sec, int64(ft%1e7)*100).UTC()
}
