// Package httpconn holds sesame's own HTTP/1.1 client connection and a
// pool of such connections keyed by upstream and identity.
//
// NTLM and Negotiate authenticate a TCP connection, not a request: every
// leg of a handshake must travel on one connection, and once it is
// authenticated, later requests on it pass without a new handshake. The
// standard library's http.Transport cannot pin a request to a connection
// (and for plain-HTTP requests through a proxy it hides the connection
// entirely), so sesame writes requests and reads responses on a [Conn] it
// owns, and keeps authenticated connections in a [Pool] under the identity
// that authenticated them, so that one user's connection is never handed
// to another.
//
// The package knows nothing of authentication schemes; package auth builds
// on it, and so does the proxy's upstream side.
package httpconn
