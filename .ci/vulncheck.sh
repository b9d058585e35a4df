# shellcheck shell=bash
# Vulnerability check with govulncheck, offline. vuln.go.dev is out of reach
# here, so the database is built from the Go vulnerability database's own
# module (golang.org/x/vulndb, its data/osv reports, indexed by its
# cmd/indexdb) fetched through the Go module proxy at a pinned version.
# Source this file, then run vuln_check.
#
# It fails on any vulnerability that the code calls in a third-party module.
# Called vulnerabilities of the Go standard library are printed loudly but do
# not fail: they are fixed by a newer Go toolchain than the machine image
# ships, which only the image can change (see docs/security.md).

VULNDB_VERSION="${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}"
GOVULNCHECK_VERSION="${GOVULNCHECK_VERSION:-v1.9.0}"

vuln_check() {
  local dir db out
  dir="$(mktemp -d)"
  db="$dir/vulndb"
  out="$dir/govulncheck.json"
  local src
  src="$(go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')" || return 1
  go run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" -vulns "$src/data/osv" -out "$db" || return 1
  go run "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION" -db "file://$db" -format json ./... >"$out" || return 1
  python3 - "$out" <<'PY'
import json, sys
data = open(sys.argv[1]).read()
dec, i, objs = json.JSONDecoder(), 0, []
while i < len(data):
    while i < len(data) and data[i].isspace():
        i += 1
    if i >= len(data):
        break
    o, i = dec.raw_decode(data, i)
    objs.append(o)
called = {}
for o in objs:
    f = o.get("finding")
    if not f or not f.get("trace") or not f["trace"][0].get("function"):
        continue  # only vulnerabilities the code reaches
    t = f["trace"][0]
    called.setdefault((t.get("module"), f["osv"]), f.get("fixed_version", ""))
stdlib = sorted(k for k in called if k[0] == "stdlib")
other = sorted(k for k in called if k[0] != "stdlib")
if stdlib:
    print("govulncheck: WARNING: the Go toolchain on this machine has %d called standard-library vulnerabilities:" % len(stdlib))
    for mod, osv in stdlib:
        print("  %s fixed in %s" % (osv, called[(mod, osv)]))
    print("  they need a newer Go toolchain in the machine image (docs/security.md)")
if other:
    print("govulncheck: FAIL: the code calls %d vulnerable functions of third-party modules:" % len(other))
    for mod, osv in other:
        print("  %s in %s, fixed in %s" % (osv, mod, called[(mod, osv)]))
    sys.exit(1)
print("govulncheck: no called vulnerability in third-party modules")
PY
}
