#!/usr/bin/env bash
# `make run`: show vulnsweep's main job on any machine. It audits the example against
# the live OSV API; where api.osv.dev cannot be reached it says so in one line and
# audits against the advisory snapshot this checkout vendors, through the offline
# database, under a banner naming the snapshot's date. It exits 0 when the audit
# completed (exit 1 only means "the example pins vulnerable releases", which it does).
# The fallback belongs to this demonstration: `vulnsweep` itself never falls back.
set -u
vulnsweep="$1"
here="$(cd "$(dirname "$0")" && pwd)"
example="$here/requirements.txt"
snapshot="$here/../tests/data/osv-pypi-2024-10.zip"
cache="${VULNSWEEP_DEMO_CACHE:-$here/../.demo-cache}"
probe="${VULNSWEEP_DEMO_PROBE:-api.osv.dev}"  # tests name a host that cannot answer

finish() {  # 0 or 1 means the audit completed
    if [ "$1" -eq 0 ] || [ "$1" -eq 1 ]; then
        [ "$1" -eq 1 ] && echo "make run: audit completed; the example pins known-vulnerable releases (exit 1)"
        exit 0
    fi
    exit "$1"
}

# A server named in VULNSWEEP_OSV_URL is used as it is; otherwise api.osv.dev, if it
# answers at all (DNS and a TCP connection within 5 s).
if [ -n "${VULNSWEEP_OSV_URL:-}" ] ||
    python3 -c "import socket, sys; socket.create_connection((sys.argv[1], 443), 5).close()" \
        "$probe" 2>/dev/null; then
    "$vulnsweep" -r "$example"
    finish $?
fi
echo "make run: api.osv.dev cannot be reached from here; auditing against the vendored advisory snapshot instead"
if ! imported="$("$vulnsweep" db import "$snapshot" --cache-dir "$cache" 2>&1)"; then
    echo "$imported" >&2
    exit 2
fi
updated="$("$vulnsweep" db info --cache-dir "$cache" | sed -n 's/^updated: *\([0-9-]*\).*/\1/p')"
echo "================================================================================"
echo " OFFLINE DEMONSTRATION: advisories as of $updated (the PyPA advisory database"
echo " snapshot in tests/data). Advisories published since then are missing here."
echo "================================================================================"
"$vulnsweep" -r "$example" --offline --cache-dir "$cache" --max-db-age 100000
finish $?
