package pac

import (
	"encoding/binary"

	"golang.org/x/sys/windows/registry"
)

const internetSettingsKey = `Software\Microsoft\Windows\CurrentVersion\Internet Settings`

// readInternetSettings reads the current user's WinINet proxy settings.
func readInternetSettings() (internetSettings, error) {
	var v internetSettings
	k, err := registry.OpenKey(registry.CURRENT_USER, internetSettingsKey, registry.QUERY_VALUE)
	if err != nil {
		return v, err
	}
	defer k.Close()
	v.AutoConfigURL, _, _ = k.GetStringValue("AutoConfigURL")
	if n, _, err := k.GetIntegerValue("ProxyEnable"); err == nil {
		v.ProxyEnable = n != 0
	}
	v.ProxyServer, _, _ = k.GetStringValue("ProxyServer")
	v.ProxyOverride, _, _ = k.GetStringValue("ProxyOverride")
	v.AutoDetect = autoDetect(k)
	return v, nil
}

// autoDetect reports whether "Automatically detect settings" is on. The
// checkbox lives in the flags of the binary DefaultConnectionSettings
// blob (offset 8, bit 0x08 = PROXY_TYPE_AUTO_DETECT); an AutoDetect DWORD,
// set by group policy on some versions, overrides it.
func autoDetect(k registry.Key) bool {
	if n, _, err := k.GetIntegerValue("AutoDetect"); err == nil {
		return n != 0
	}
	c, err := registry.OpenKey(k, "Connections", registry.QUERY_VALUE)
	if err != nil {
		return false
	}
	defer c.Close()
	blob, _, err := c.GetBinaryValue("DefaultConnectionSettings")
	if err != nil || len(blob) < 12 {
		return false
	}
	return binary.LittleEndian.Uint32(blob[8:12])&0x08 != 0
}
