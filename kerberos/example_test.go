package kerberos_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"log"

	"github.com/sesame-auth/sesame/kerberos"
)

// The raw exchange of HTTP Negotiate with the ticket kinit left in the
// default credential cache: the token for the Authorization header, then
// the server's AP-REP from the final response's WWW-Authenticate.
func Example() {
	cfg, err := kerberos.LoadConfig("") // KRB5_CONFIG or /etc/krb5.conf
	if err != nil {
		log.Fatal(err)
	}
	c, err := kerberos.NewFromCCache("", cfg) // KRB5CCNAME or the default
	if err != nil {
		log.Fatal(err)
	}
	spn := kerberos.ServiceName("HTTP", "web.corp.example")
	x, err := c.InitContext(context.Background(), spn, kerberos.ContextOptions{
		Mutual:     kerberos.MutualRequired,
		Delegation: kerberos.DelegatePolicy,
	})
	if err != nil {
		log.Fatal(err) // errors.Is(err, kerberos.ErrNoCredentials): run kinit
	}
	fmt.Println("Authorization: Negotiate " + base64.StdEncoding.EncodeToString(x.Token()))

	var apRep []byte // decoded from "WWW-Authenticate: Negotiate <token>" of the 200
	if err := x.Finish(apRep); err != nil {
		log.Fatal(err) // errors.Is(err, kerberos.ErrMutualAuth): do not trust the response
	}
}
