#!/usr/bin/python3
"""SPNEGO initiator for sesame's interop tests: MIT krb5's SPNEGO with
gss-ntlmssp as the only mechanism, as user DOMAIN\\user with a password.

usage: spnego_initiator.py 'DOMAIN\\user' PASSWORD [--handshake]
Prints the base64 NegTokenInit on one line. With --handshake it also runs
the whole exchange against an in-process SPNEGO acceptor (which needs
$NTLM_USER_FILE) and prints every later token, one base64 line each,
initiator and acceptor alternating, then "NAME <initiator name>".
"""
import base64
import sys

import gssapi
import gssapi.raw

SPNEGO = gssapi.OID.from_int_seq('1.3.6.1.5.5.2')
NTLMSSP = gssapi.OID.from_int_seq('1.3.6.1.4.1.311.2.2.10')


def main():
    user, password = sys.argv[1], sys.argv[2]
    handshake = '--handshake' in sys.argv[3:]
    name = gssapi.Name(user, gssapi.NameType.user)
    creds = gssapi.raw.acquire_cred_with_password(
        name, password.encode(), usage='initiate', mechs=[SPNEGO]).creds
    # Offer NTLMSSP only, whatever else libgssapi has (krb5 without a
    # ticket would otherwise be listed first and dropped later).
    gssapi.raw.set_neg_mechs(creds, [NTLMSSP])
    ictx = gssapi.SecurityContext(
        name=gssapi.Name('HTTP@localhost', gssapi.NameType.hostbased_service),
        creds=creds, mech=SPNEGO, usage='initiate')
    tok = ictx.step()
    print(base64.b64encode(tok).decode(), flush=True)
    if not handshake:
        return 0
    actx = gssapi.SecurityContext(
        usage='accept', creds=gssapi.Credentials(usage='accept', mechs=[SPNEGO]))
    side = actx
    while tok:
        tok = side.step(tok)
        if tok:
            print(base64.b64encode(tok).decode(), flush=True)
        side = ictx if side is actx else actx
    print('NAME %s' % str(actx.initiator_name).replace('\0', ''), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
