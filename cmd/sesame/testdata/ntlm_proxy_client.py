#!/usr/bin/python3
"""An NTLM client of an origin, through a forward proxy, on ONE client
connection: the NTLM messages come from gss-ntlmssp (python3-gssapi), the
full-size ones stock mod_auth_gssapi accepts. After the handshake it sends
more requests on the same connection without any Authorization header: an
origin that authenticates connections (GssapiConnectionBound) lets them
through as the same user, provided the proxy keeps the client's upstream
connection for this client alone.

usage: ntlm_proxy_client.py PROXY_HOST:PORT URL 'DOMAIN\\user' REQUESTS
(password in $NTLM_PASSWORD)
prints one line per request: "status=<code> user=<X-Remote-User>"
Exit 0 when every request got 200.
"""
import base64
import http.client
import os
import sys
from urllib.parse import urlsplit

import gssapi
import gssapi.raw

NTLMSSP = gssapi.OID.from_int_seq('1.3.6.1.4.1.311.2.2.10')


def main():
    proxy, url, user, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    host, port = proxy.rsplit(':', 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    name = gssapi.Name(user, gssapi.NameType.user)
    creds = gssapi.raw.acquire_cred_with_password(
        name, os.environ['NTLM_PASSWORD'].encode(), usage='initiate', mechs=[NTLMSSP]).creds
    ctx = gssapi.SecurityContext(
        name=gssapi.Name('HTTP@' + urlsplit(url).hostname, gssapi.NameType.hostbased_service),
        creds=creds, mech=NTLMSSP, usage='initiate')
    t1 = ctx.step()
    conn.request('GET', url, headers={'Authorization': 'NTLM ' + base64.b64encode(t1).decode()})
    r = conn.getresponse()
    r.read()
    chal = [h for h in (r.msg.get_all('WWW-Authenticate') or []) if h.startswith('NTLM ')]
    if r.status != 401 or not chal:
        print('status=%d (no NTLM challenge)' % r.status)
        return 1
    t3 = ctx.step(base64.b64decode(chal[0][5:]))
    headers = {'Authorization': 'NTLM ' + base64.b64encode(t3).decode()}
    ok = True
    for i in range(n):
        conn.request('GET', url, headers=headers)
        r = conn.getresponse()
        r.read()
        print('status=%d user=%s' % (r.status, r.getheader('X-Remote-User', '')), flush=True)
        ok = ok and r.status == 200
        headers = {}
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
