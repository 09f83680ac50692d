package ntlm

import (
	"fmt"
	"math/bits"
	"strings"
)

// NegotiateFlags is the NegotiateFlags field of every NTLM message
// (MS-NLMP 2.2.2.5).
type NegotiateFlags uint32

// The negotiate flags, named as in MS-NLMP without the NTLMSSP_ prefix.
const (
	FlagUnicode                 NegotiateFlags = 1 << 0  // NEGOTIATE_UNICODE (A)
	FlagOEM                     NegotiateFlags = 1 << 1  // NEGOTIATE_OEM (B)
	FlagRequestTarget           NegotiateFlags = 1 << 2  // REQUEST_TARGET (C)
	FlagSign                    NegotiateFlags = 1 << 4  // NEGOTIATE_SIGN (D)
	FlagSeal                    NegotiateFlags = 1 << 5  // NEGOTIATE_SEAL (E)
	FlagDatagram                NegotiateFlags = 1 << 6  // NEGOTIATE_DATAGRAM (F)
	FlagLMKey                   NegotiateFlags = 1 << 7  // NEGOTIATE_LM_KEY (G)
	FlagNetware                 NegotiateFlags = 1 << 8  // unused bit r8, once NEGOTIATE_NETWARE
	FlagNTLM                    NegotiateFlags = 1 << 9  // NEGOTIATE_NTLM (H)
	FlagAnonymous               NegotiateFlags = 1 << 11 // anonymous connection (J)
	FlagOEMDomainSupplied       NegotiateFlags = 1 << 12 // NEGOTIATE_OEM_DOMAIN_SUPPLIED (K)
	FlagOEMWorkstationSupplied  NegotiateFlags = 1 << 13 // NEGOTIATE_OEM_WORKSTATION_SUPPLIED (L)
	FlagAlwaysSign              NegotiateFlags = 1 << 15 // NEGOTIATE_ALWAYS_SIGN (M)
	FlagTargetTypeDomain        NegotiateFlags = 1 << 16 // TARGET_TYPE_DOMAIN (N)
	FlagTargetTypeServer        NegotiateFlags = 1 << 17 // TARGET_TYPE_SERVER (O)
	FlagTargetTypeShare         NegotiateFlags = 1 << 18 // unused bit r4, once TARGET_TYPE_SHARE
	FlagExtendedSessionSecurity NegotiateFlags = 1 << 19 // NEGOTIATE_EXTENDED_SESSIONSECURITY (P)
	FlagIdentify                NegotiateFlags = 1 << 20 // NEGOTIATE_IDENTIFY (Q)
	FlagRequestNonNTSessionKey  NegotiateFlags = 1 << 22 // REQUEST_NON_NT_SESSION_KEY (R)
	FlagTargetInfo              NegotiateFlags = 1 << 23 // NEGOTIATE_TARGET_INFO (S)
	FlagVersion                 NegotiateFlags = 1 << 25 // NEGOTIATE_VERSION (T)
	Flag128                     NegotiateFlags = 1 << 29 // NEGOTIATE_128 (U)
	FlagKeyExchange             NegotiateFlags = 1 << 30 // NEGOTIATE_KEY_EXCH (V)
	Flag56                      NegotiateFlags = 1 << 31 // NEGOTIATE_56 (W)
)

var flagNames = [32]string{
	0: "UNICODE", 1: "OEM", 2: "REQUEST_TARGET", 4: "SIGN", 5: "SEAL",
	6: "DATAGRAM", 7: "LM_KEY", 8: "NETWARE", 9: "NTLM", 11: "ANONYMOUS",
	12: "OEM_DOMAIN_SUPPLIED", 13: "OEM_WORKSTATION_SUPPLIED", 14: "LOCAL_CALL",
	15: "ALWAYS_SIGN", 16: "TARGET_TYPE_DOMAIN", 17: "TARGET_TYPE_SERVER",
	18: "TARGET_TYPE_SHARE", 19: "EXTENDED_SESSIONSECURITY", 20: "IDENTIFY",
	22: "REQUEST_NON_NT_SESSION_KEY", 23: "TARGET_INFO", 25: "VERSION",
	29: "128", 30: "KEY_EXCH", 31: "56",
}

// Has reports whether every flag in want is set.
func (f NegotiateFlags) Has(want NegotiateFlags) bool { return f&want == want }

// Names lists the names of the set flags, lowest bit first; unnamed bits
// appear as "bitN".
func (f NegotiateFlags) Names() []string {
	names := make([]string, 0, bits.OnesCount32(uint32(f)))
	for i := 0; i < 32; i++ {
		if f&(1<<i) == 0 {
			continue
		}
		if n := flagNames[i]; n != "" {
			names = append(names, n)
		} else {
			names = append(names, fmt.Sprintf("bit%d", i))
		}
	}
	return names
}

// String formats the flags as hex followed by their names.
func (f NegotiateFlags) String() string {
	return fmt.Sprintf("0x%08x (%s)", uint32(f), strings.Join(f.Names(), "|"))
}
