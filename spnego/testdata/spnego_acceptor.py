#!/usr/bin/python3
"""SPNEGO acceptor for sesame's interop tests: MIT krb5's SPNEGO (libgssapi)
with gss-ntlmssp as the mechanism, verifying against $NTLM_USER_FILE
(lines DOMAIN:user:password). Nothing here is sesame's code.

Protocol, one line each way per leg:
  stdin : <base64 token from the initiator>
  stdout: CONTINUE <base64 token>
        | COMPLETE <base64 token or -> <initiator name> <mech OID>
        | ERROR <message>
The process exits after COMPLETE or ERROR.
"""
import base64
import sys

import gssapi
import gssapi.exceptions

SPNEGO = gssapi.OID.from_int_seq('1.3.6.1.5.5.2')


def say(line):
    sys.stdout.write(line.replace('\0', '').replace('\n', ' ') + '\n')
    sys.stdout.flush()


def main():
    try:
        creds = gssapi.Credentials(usage='accept', mechs=[SPNEGO])
        ctx = gssapi.SecurityContext(usage='accept', creds=creds)
    except gssapi.exceptions.GSSError as e:
        say('ERROR setup: %s' % e)
        return 1
    for raw in sys.stdin:
        line = raw.strip()
        if not line:
            continue
        # python-gssapi may defer a failed step's exception to the next
        # attribute access, so both sit inside the try.
        try:
            out = ctx.step(base64.b64decode(line))
            complete = ctx.complete
        except gssapi.exceptions.GSSError as e:
            say('ERROR %s' % e)
            return 1
        b64 = base64.b64encode(out).decode() if out else '-'
        if complete:
            say('COMPLETE %s %s %s' % (b64, ctx.initiator_name, ctx.mech))
            return 0
        say('CONTINUE %s' % b64)
    say('ERROR initiator went away')
    return 1


if __name__ == '__main__':
    sys.exit(main())
