package ntlm

import "strings"

// SplitUser splits a user name written as "DOMAIN\user" or "user@domain"
// into user and domain; a plain name has an empty domain. The UPN form
// keeps its domain as written (Windows sends it that way too).
func SplitUser(name string) (user, domain string) {
	if d, u, ok := strings.Cut(name, `\`); ok {
		return u, d
	}
	if i := strings.LastIndexByte(name, '@'); i > 0 {
		return name[:i], name[i+1:]
	}
	return name, ""
}
