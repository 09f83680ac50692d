#!/usr/bin/python3
"""Reference raw-NTLM HTTP client whose NTLM messages come from gss-ntlmssp
(initiator side), i.e. full-size Type-1 (40 bytes, with Version) and Type-3
(Version + MIC present). internal/lab's tests use it to prove that the stock
mod_auth_gssapi + gss-ntlmssp fixture verifies passwords (it rejects curl's
compact messages, so curl cannot serve as the reference client there).
Copied from the auth lab (lab/gss_ntlm_client.py), plus x_remote_user.
Needs python3-gssapi.

usage: gss_ntlm_client.py URL 'DOMAIN\\user' PASSWORD
prints: status=<code> type1_len=<n> type3_len=<n> x_remote_user=<X-Remote-User
response header> then the response body.
Exit 0 on HTTP 200.
"""
import base64
import http.client
import sys
from urllib.parse import urlsplit

import gssapi
import gssapi.raw

NTLMSSP = gssapi.OID.from_int_seq('1.3.6.1.4.1.311.2.2.10')


def main():
    url, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
    u = urlsplit(url)
    path = u.path or '/'
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=15)
    name = gssapi.Name(user, gssapi.NameType.user)
    creds = gssapi.raw.acquire_cred_with_password(
        name, password.encode(), usage='initiate', mechs=[NTLMSSP]).creds
    ctx = gssapi.SecurityContext(
        name=gssapi.Name('HTTP@' + u.hostname, gssapi.NameType.hostbased_service),
        creds=creds, mech=NTLMSSP, usage='initiate')
    t1 = ctx.step()
    conn.request('GET', path, headers={'Authorization': 'NTLM ' + base64.b64encode(t1).decode()})
    r = conn.getresponse()
    r.read()
    chal = [h for h in (r.msg.get_all('WWW-Authenticate') or []) if h.startswith('NTLM ')]
    if r.status != 401 or not chal:
        print('status=%d (no NTLM challenge)' % r.status)
        return 1
    t3 = ctx.step(base64.b64decode(chal[0][5:]))
    conn.request('GET', path, headers={'Authorization': 'NTLM ' + base64.b64encode(t3).decode()})
    r = conn.getresponse()
    body = r.read().decode(errors='replace')
    print('status=%d type1_len=%d type3_len=%d x_remote_user=%s' % (
        r.status, len(t1), len(t3), r.getheader('X-Remote-User', '')))
    print(body, end='')
    return 0 if r.status == 200 else 1


if __name__ == '__main__':
    sys.exit(main())
