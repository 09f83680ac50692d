package auth_test

import (
	"fmt"
	"log"
	"net/http"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/ntlm"
)

// A Go web app that wants the visitor's identity: NTLM from a user file,
// Basic from an htpasswd file; pages are public (Optional) with a /login
// that asks, /admin/ always asks. The http.Server gets the Middleware's
// connection hooks (NTLM authenticates connections).
func ExampleMiddleware() {
	users, err := ntlm.LoadUserFile("/etc/sesame/ntlm-users")
	if err != nil {
		log.Fatal(err)
	}
	htpasswd, err := auth.LoadHtpasswd("/etc/sesame/htpasswd")
	if err != nil {
		log.Fatal(err)
	}
	m := &auth.Middleware{
		NTLM:        &ntlm.Server{Store: users, NetBIOSDomain: "CORP"},
		Basic:       htpasswd,
		Realm:       "intranet",
		DefaultMode: auth.Optional,
		LoginPath:   "/login",
		Paths:       []auth.PathMode{{Prefix: "/admin/", Mode: auth.Required}},
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, ok := auth.UserFrom(r.Context()); ok {
			fmt.Fprintf(w, "Hello, %s (%s via %s)\n", u.Principal, u.Scheme, u.Verified)
			return
		}
		fmt.Fprintln(w, `Hello, visitor. <a href="/login?return=/">Sign in</a>`)
	})
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: m.Wrap(app)}
	m.Install(srv)
	log.Fatal(srv.ListenAndServe())
}
