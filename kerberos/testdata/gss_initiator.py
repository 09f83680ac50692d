#!/usr/bin/python3
"""GSS-API initiator for sesame's acceptor tests: MIT krb5's libgssapi
through python3-gssapi, with the ticket cache in $KRB5CCNAME. Nothing here
is sesame's code.

usage: gss_initiator.py TARGET MECH [--mutual] [--deleg] [--cb HEX]
                        [--ntlm 'DOMAIN\\user' PASSWORD]
                        [--neg-mechs OID,OID...] [--mic HEX] [--show-key]
  TARGET  host-based service name, e.g. HTTP@localhost
  MECH    krb5 or spnego
  --ntlm  SPNEGO with gss-ntlmssp as the only mechanism, logging in with
          the password instead of the ticket cache
  --cb    channel bindings application data, hex (e.g. of
          "tls-server-end-point:" + hash)
  --neg-mechs  SPNEGO offering these mechanisms, in this order
          (gss_set_neg_mechs on the ticket cache's credentials)
  --mic   after COMPLETE, a GSS_GetMIC token over these bytes, then one
          line with the acceptor's MIC over them to GSS_VerifyMIC
  --show-key  after COMPLETE, the context's session key
          (GSS_C_INQ_SSPI_SESSION_KEY), for test vectors

Protocol, one line each way:
  stdout: TOKEN <base64 initial token>
  stdin : <base64 acceptor token> or "-" (none)
  stdout: TOKEN <base64> (another leg) | COMPLETE [<base64 last token>]
        | ERROR <message>
Then, with --show-key:  stdout: KEY <enctype> <hex>
with --mic:  stdout: MIC <base64>
             stdin : <base64 acceptor MIC>
             stdout: VERIFIED | ERROR <message>
"""
import base64
import sys

import gssapi
import gssapi.exceptions
import gssapi.raw

MECHS = {
    'krb5': gssapi.OID.from_int_seq('1.2.840.113554.1.2.2'),
    'spnego': gssapi.OID.from_int_seq('1.3.6.1.5.5.2'),
}
NTLMSSP = gssapi.OID.from_int_seq('1.3.6.1.4.1.311.2.2.10')
# GSS_C_INQ_SSPI_SESSION_KEY: the key, then an OID naming its enctype.
INQ_SESSION_KEY = gssapi.OID.from_int_seq('1.2.840.113554.1.2.2.5.5')


def say(line):
    sys.stdout.write(line + '\n')
    sys.stdout.flush()


def main():
    target, mech = sys.argv[1], MECHS[sys.argv[2]]
    args = sys.argv[3:]
    flags = [gssapi.RequirementFlag.integrity, gssapi.RequirementFlag.out_of_sequence_detection]
    if '--mutual' in args:
        flags.append(gssapi.RequirementFlag.mutual_authentication)
    if '--deleg' in args:
        flags.append(gssapi.RequirementFlag.delegate_to_peer)
    cb = None
    if '--cb' in args:
        data = bytes.fromhex(args[args.index('--cb') + 1])
        cb = gssapi.raw.ChannelBindings(application_data=data)
    creds = None
    try:
        if '--ntlm' in args:
            i = args.index('--ntlm')
            user, password = args[i + 1], args[i + 2]
            creds = gssapi.raw.acquire_cred_with_password(
                gssapi.Name(user, gssapi.NameType.user), password.encode(),
                usage='initiate', mechs=[MECHS['spnego']]).creds
            gssapi.raw.set_neg_mechs(creds, [NTLMSSP])
        if '--neg-mechs' in args:
            oids = args[args.index('--neg-mechs') + 1].split(',')
            creds = gssapi.Credentials(usage='initiate', mechs=[MECHS['spnego']])
            gssapi.raw.set_neg_mechs(creds, [gssapi.OID.from_int_seq(o) for o in oids])
        ctx = gssapi.SecurityContext(
            name=gssapi.Name(target, gssapi.NameType.hostbased_service),
            mech=mech, usage='initiate', flags=flags, channel_bindings=cb,
            creds=creds)
        tok = ctx.step()
    except gssapi.exceptions.GSSError as e:
        say('ERROR %s' % e)
        return 1
    say('TOKEN %s' % base64.b64encode(tok).decode())
    while not ctx.complete:
        line = sys.stdin.readline()
        if not line:
            say('ERROR acceptor went away')
            return 1
        line = line.strip()
        try:
            out = ctx.step(b'' if line == '-' else base64.b64decode(line))
            complete = ctx.complete
        except gssapi.exceptions.GSSError as e:
            say('ERROR %s' % e)
            return 1
        b64 = base64.b64encode(out).decode() if out else ''
        if complete:
            say('COMPLETE %s' % b64)
            return after(ctx, args)
        say('TOKEN %s' % b64)
    say('COMPLETE')
    return after(ctx, args)


def after(ctx, args):
    """Per-message steps of the complete context: --show-key, --mic."""
    try:
        if '--show-key' in args:
            res = gssapi.raw.inquire_sec_context_by_oid(ctx, INQ_SESSION_KEY)
            say('KEY %s %s' % (res[1].hex() if len(res) > 1 else '-', res[0].hex()))
        if '--mic' in args:
            data = bytes.fromhex(args[args.index('--mic') + 1])
            say('MIC %s' % base64.b64encode(ctx.get_signature(data)).decode())
            line = sys.stdin.readline().strip()
            ctx.verify_signature(data, base64.b64decode(line))
            say('VERIFIED')
    except gssapi.exceptions.GSSError as e:
        say('ERROR %s' % e)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
