#!/usr/bin/python3
"""Squid NTLM authenticator (stateful helper protocol) that verifies for real.

All NTLM cryptography and password checking is done by gss-ntlmssp (the
independent NTLMSSP GSS-API mechanism also used by mod_auth_gssapi), acting as
acceptor with the users in $NTLM_USER_FILE (lines DOMAIN:user:password).
This script only shuttles tokens between squid and GSS-API:

  squid -> "YR <type1 b64>"   helper -> "TT <type2 b64>"
  squid -> "KK <type3 b64>"   helper -> "AF <DOMAIN\\user>" | "NA <reason>"
  anything broken             helper -> "BH <reason>"

Compatibility shim (on by default; "--strict" turns it off). gss-ntlmssp
(every release up to 1.3.1) has a strict wire parser that rejects valid
messages from many clients (curl, cntlm, ...) with "Failed to decode data":
  * a NEGOTIATE (Type-1) shorter than 40 bytes (no 8-byte Version field);
  * an AUTHENTICATE (Type-3) whose payload starts before offset 80/88,
    i.e. without room for the Version and MIC fields (curl puts it at 64).
So, before gss-ntlmssp sees them, the shim pads a short Type-1 with zero bytes
and, in a Type-3, inserts zero bytes where Version/MIC would be and shifts
every payload offset accordingly. No flag is changed and no byte that any
NTLM hash/response covers is altered (a MIC is only checked when the client
flags one in its AV pairs, and such clients send full-size messages), so the
password check done by gss-ntlmssp is unaffected.

Needs python3-gssapi and gss-ntlmssp (Debian packages).

Copied from the shared lab recipe (../shared/lab/ntlm_gss_helper.py) for
internal/lab.StartSquid; this copy also logs the reason of every NA/BH reply
to stderr (squid's cache.log).
"""
import base64
import sys

import gssapi
import gssapi.exceptions

NTLMSSP = gssapi.OID.from_int_seq('1.3.6.1.4.1.311.2.2.10')


def reply(line):
    # gss-ntlmssp's display name carries a trailing NUL; squid stops at NULs
    line = line.replace('\0', '').replace('\r', ' ').replace('\n', ' ')
    sys.stdout.write(line + '\n')
    sys.stdout.flush()
    # squid logs only "NA"/"BH", not the reason; a helper's stderr goes to
    # cache.log, so say there why a login failed.
    if line[:3] in ('NA ', 'BH '):
        sys.stderr.write('ntlm_gss_helper: ' + line + '\n')
        sys.stderr.flush()


SIG = b'NTLMSSP\0'
# Type-3 security buffers (len:2, maxlen:2, offset:4): LM, NT, domain, user,
# workstation, encrypted session key at these header offsets.
T3_FIELDS = (12, 20, 28, 36, 44, 52)
T3_FULL_HDR = 88  # 64 + Version(8) + MIC(16)


def normalise(tok, strict):
    """Make a valid-but-compact NTLM message digestible by gss-ntlmssp."""
    if strict or len(tok) < 12 or tok[:8] != SIG:
        return tok
    mtype = int.from_bytes(tok[8:12], 'little')
    if mtype == 1 and len(tok) < 40:
        return tok + b'\0' * (40 - len(tok))
    if mtype == 3 and len(tok) >= 64:
        offs = [int.from_bytes(tok[f + 4:f + 8], 'little')
                for f in T3_FIELDS if int.from_bytes(tok[f:f + 2], 'little')]
        start = min(offs) if offs else len(tok)
        if 64 <= start < T3_FULL_HDR:
            gap = T3_FULL_HDR - start
            out = bytearray(tok[:start] + b'\0' * gap + tok[start:])
            for f in T3_FIELDS:
                o = int.from_bytes(out[f + 4:f + 8], 'little')
                if o >= start:
                    out[f + 4:f + 8] = (o + gap).to_bytes(4, 'little')
            return bytes(out)
    return tok


def main():
    strict = '--strict' in sys.argv[1:]
    ctx = None
    for raw in sys.stdin:
        line = raw.strip()
        if not line:
            continue
        cmd, _, arg = line.partition(' ')
        try:
            if cmd == 'YR':
                creds = gssapi.Credentials(usage='accept', mechs=[NTLMSSP])
                ctx = gssapi.SecurityContext(creds=creds, usage='accept')
                out = ctx.step(normalise(base64.b64decode(arg), strict))
                if ctx.complete or not out:
                    ctx = None
                    reply('BH unexpected NTLM negotiate result')
                else:
                    reply('TT ' + base64.b64encode(out).decode())
            elif cmd == 'KK':
                if ctx is None:
                    reply('BH KK without YR')
                    continue
                c, ctx = ctx, None
                c.step(normalise(base64.b64decode(arg), strict))
                if c.complete:
                    reply('AF ' + str(c.initiator_name))
                else:
                    reply('NA NTLM exchange not complete')
            else:
                ctx = None
                reply('BH unknown request ' + cmd)
        except gssapi.exceptions.GSSError as e:
            ctx = None
            reply('NA ' + ' '.join(str(e).split())[:200])
        except Exception as e:  # malformed base64 etc.
            ctx = None
            reply('BH ' + ' '.join(repr(e).split())[:200])


if __name__ == '__main__':
    main()
