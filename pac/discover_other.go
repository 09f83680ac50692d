//go:build !windows

package pac

import "errors"

// readInternetSettings: the registry exists on Windows only.
func readInternetSettings() (internetSettings, error) {
	return internetSettings{}, errors.New("not available on this build (Windows only)")
}
