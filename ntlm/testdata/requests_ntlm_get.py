#!/usr/bin/python3
"""Fetch a URL with python3-requests-ntlm (ntlm-auth underneath), an NTLM
client written independently of sesame. Prints "status=<code>" and the body.

usage: requests_ntlm_get.py URL 'DOMAIN\\user'   (password in $NTLM_PASSWORD)
"""
import os
import sys

import requests
from requests_ntlm import HttpNtlmAuth


def main():
    url, user = sys.argv[1], sys.argv[2]
    r = requests.get(url, auth=HttpNtlmAuth(user, os.environ["NTLM_PASSWORD"]), timeout=15)
    print("status=%d" % r.status_code)
    print(r.text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
