// Package config holds the configuration of `sesame proxy`: one TOML file,
// overridden by SESAME_* environment variables and then by command-line
// flags, and translations of the incumbents' files (cntlm.conf, px.ini)
// into it.
//
// Decoding is strict: an unknown key is an error naming it, so a typo does
// not silently leave a default in force. Every key of the incumbents'
// formats is either mapped or reported as unsupported.
package config
