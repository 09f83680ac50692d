package main

import "flag"

// sspiTokenFlags are `sesame token negotiate`'s flags for --sspi: the
// account whose credentials Windows' NTLM package uses (none: the
// logged-on user).
type sspiTokenFlags struct {
	sspi   bool
	user   string
	secret secretFlags
}

func (f *sspiTokenFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.sspi, "sspi", false, "make the NEGOTIATE with Windows' own NTLM package (SSPI), not sesame's; Windows only")
	fs.StringVar(&f.user, "user", "", "with --sspi: the account (`DOMAIN\\user`) instead of the logged-on user; needs --password-stdin or --password-env")
	fs.BoolVar(&f.secret.passwordStdin, "password-stdin", false, "with --sspi --user: read the password from the first line of stdin")
	fs.StringVar(&f.secret.passwordEnv, "password-env", "", "with --sspi --user: read the password from environment variable `VAR`")
}

// sspiAuthArgs are `sesame token authenticate`'s flags, for --sspi.
type sspiAuthArgs struct {
	user, domain, challenge, negotiate, serverCert, spn, workstation string
	version                                                          int
}
