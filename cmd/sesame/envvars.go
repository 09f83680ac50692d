package main

import (
	"fmt"
	"strings"

	"github.com/sesame-auth/sesame/config"
)

// envVarsHelp lists the SESAME_* variables for `sesame proxy -h`.
func envVarsHelp() string {
	var b strings.Builder
	b.WriteString("environment (between the config file and the flags):")
	for _, v := range config.EnvVars {
		fmt.Fprintf(&b, "\n  %-24s %s", v.Name, v.Help)
	}
	return b.String()
}
