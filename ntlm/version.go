package ntlm

import (
	"encoding/binary"
	"fmt"
)

// Version is the optional VERSION structure of NTLM messages (MS-NLMP
// 2.2.2.10). It is informational only, but gss-ntlmssp rejects NEGOTIATE
// messages too short to hold one, so the client always sends it.
type Version struct {
	Major, Minor uint8
	Build        uint16
	// Revision is the NTLMSSP revision, 15 (NTLMSSP_REVISION_W2K3) today.
	Revision uint8
}

// DefaultVersion is what sesame announces: Windows 10.0 build 19041, NTLM
// revision 15. Peers only log it; the value matches modern Windows so that
// middleboxes that look at it treat sesame like any current client.
var DefaultVersion = Version{Major: 10, Minor: 0, Build: 19041, Revision: 15}

func (v Version) marshal(b []byte) {
	b[0], b[1] = v.Major, v.Minor
	binary.LittleEndian.PutUint16(b[2:], v.Build)
	b[7] = v.Revision // bytes 4-6 are reserved
}

func parseVersion(b []byte) Version {
	return Version{Major: b[0], Minor: b[1], Build: binary.LittleEndian.Uint16(b[2:]), Revision: b[7]}
}

// String formats the version as "major.minor.build rev N".
func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d rev %d", v.Major, v.Minor, v.Build, v.Revision)
}
