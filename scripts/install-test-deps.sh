#!/usr/bin/env bash
# Install the Debian packages the tests need: the real, independent peers the
# interop tests start or run (internal/lab starts them on 127.0.0.1 only).
#
# Idempotent and non-interactive. If every package is already installed it
# says so and exits 0 without touching apt (so it is cheap to run before every
# test run). Otherwise, as root, it installs the missing ones with
# --no-install-recommends. A temporary /usr/sbin/policy-rc.d (exit 101) keeps
# dpkg from starting system daemons (apache2 etc.): the tests start their own
# private instances and a system Apache on :80 is neither needed nor wanted.
# Not root and something missing: it prints exactly what and exits 1.
set -euo pipefail

# One array, one group per line, so that later peers are a one-line change
# (e.g. "krb5-kdc krb5-user  # Kerberos KDC for Negotiate", "squid",
# "cntlm", "chromium").
PKGS=(
  apache2 apache2-utils                     # httpd for internal/lab (StartApache), htpasswd/htdigest
  libapache2-mod-auth-gssapi gss-ntlmssp    # stock mod_auth_gssapi + gss-ntlmssp: the real NTLMv2 verifier
  curl                                      # reference NTLM client (compact messages) and HTTP probe
  python3 python3-gssapi                    # gss_ntlm_client.py: full-size NTLM messages from gss-ntlmssp
  python3-requests python3-requests-ntlm    # requests-ntlm: an independent client of our acceptor
  python3-requests-kerberos                 # requests-kerberos (pyspnego): an independent Negotiate client of sesame serve
  ca-certificates openssl                   # TLS peers and test certificates
  procps iproute2                           # pgrep/ps and ss: checking that tests leave no process or socket
  krb5-kdc krb5-admin-server krb5-user      # MIT KDC (StartKDC): krb5kdc, kdb5_util; kadmin.local only (kadmind never runs); kinit/klist/kvno
  squid                                     # upstream proxy (StartSquid) with basic/digest/negotiate helpers
  cntlm                                     # competitor local NTLM proxy (StartCntlm), for the proxy benchmark
  git                                       # a real tool through `sesame run` (git clone over HTTP)
  python3-pacparser faketime                # independent PAC engine (SpiderMonkey) for the differential test, at fixed times
  python3-pip                               # a real tool through `sesame run` (pip download from a local index)
  chromium                                  # headless browser through `sesame proxy`, and the status page rendered
  dbus-daemon gnome-keyring libsecret-tools # a real Secret Service on a private bus for `sesame login`; secret-tool as a second client
  wine64                                    # Wine 8 (StartWine): sesame.exe as a real Windows service under Wine's service manager
  samba-ad-dc samba-ad-provision winbind ldb-tools # Samba AD DC (StartADDC): samba, samba-tool (+schema: not a Depends), ntlm_auth/wbinfo for squid, ldbmodify; no libnss/libpam-winbind
  sssd-kcm heimdal-kcm keyutils          # KCM daemons (sssd-kcm, Heimdal kcm; co-installable with MIT krb5-user) and keyctl, for the KCM:/KEYRING: ccache tests
)

me=install-test-deps.sh

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "$me: all ${#PKGS[@]} test packages already installed"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "$me: missing Debian packages: ${missing[*]}" >&2
  echo "$me: run as root (e.g. sudo $0), or: apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

echo "$me: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive

# Keep dpkg from starting system daemons, but only if nobody else has a
# policy-rc.d in place (then theirs stays and is not removed by us).
tmp_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  tmp_policy=1
fi
cleanup() { if [ "$tmp_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT

# DPkg::Lock::Timeout waits for the dpkg frontend lock; apt_retry also covers
# the apt lists lock and the window between two dpkg runs of another apt.
APT_OPTS=(-y --no-install-recommends -o DPkg::Lock::Timeout=600
          -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
apt_retry() {
  local i
  for i in $(seq 1 30); do
    if "$@"; then return 0; fi
    if pgrep -x 'apt-get|apt|dpkg|unattended-upgr' >/dev/null; then
      echo "$me: dpkg busy, retrying in 10s ($i/30)" >&2
      sleep 10
    else
      return 1
    fi
  done
  return 1
}

# apt-get update only when there are no package lists, or when the install
# fails (stale lists point at versions the mirror no longer has).
if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
  apt_retry apt-get -o DPkg::Lock::Timeout=600 update
fi
if ! apt_retry apt-get install "${APT_OPTS[@]}" "${missing[@]}"; then
  apt_retry apt-get -o DPkg::Lock::Timeout=600 update
  apt_retry apt-get install "${APT_OPTS[@]}" "${missing[@]}"
fi

still=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || still+=("$p")
done
if [ ${#still[@]} -ne 0 ]; then
  echo "$me: still missing after install: ${still[*]}" >&2
  exit 1
fi
echo "$me: done"
