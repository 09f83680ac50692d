#!/usr/bin/python3
"""Evaluate PAC files with pacparser (SpiderMonkey) for the differential test.

Reads JSON from stdin: {"myip": "a.b.c.d", "files": [{"name", "src",
"urls": [[url, host], ...]}]} and writes {"name": [result, ...]} where a
result is the FindProxyForURL string or "ERROR: ...". The Go test runs this
under faketime (fixed clock) and unshare -n (no network: any name lookup
that isn't in /etc/hosts fails at once instead of asking a DNS server).
"""
import json
import sys

import pacparser


def main():
    req = json.load(sys.stdin)
    out = {}
    for f in req["files"]:
        res = []
        pacparser.init()
        pacparser.setmyip(req["myip"])
        try:
            pacparser.parse_pac_string(f["src"])
        except Exception as e:  # noqa: BLE001 - report any engine error
            out[f["name"]] = ["ERROR: parse: %s" % e] * len(f["urls"])
            pacparser.cleanup()
            continue
        for url, host in f["urls"]:
            try:
                res.append(pacparser.find_proxy(url, host))
            except Exception as e:  # noqa: BLE001
                res.append("ERROR: %s" % e)
        pacparser.cleanup()
        out[f["name"]] = res
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
