#!/usr/bin/env bash
# Renders every overlay of deploy/k8s with `kubectl kustomize` and checks
# the manifests (k8s_check.py): images, the UDP ports against "listen", the
# probes against "metrics_listen" in the mounted ConfigMap, securityContext,
# every ConfigMap and Secret key a volume names (the Secrets made by
# deploy/k8s/make-secrets.sh from a real `ztna cert` PKI), and what each
# overlay is for. The Intermediate's rendered configuration also passes
# `ztna-intermediate --check-config`. The checker is first run on a
# deliberately broken render and must refuse it.
# Needs kubectl (Debian's kubernetes-client where none is installed) and
# BUILD's ztna tools; without kubectl: SKIP. Prints its wall time.
set -u
cd "$(dirname "$0")/../.." || exit 1
SECONDS=0
BUILD=${BUILD:-build}
PY=$(command -v /usr/bin/python3 || command -v python3)
if ! command -v kubectl >/dev/null; then
  bash scripts/deps.sh kubernetes-client python3-yaml >/dev/null 2>&1 || true
fi
if ! command -v kubectl >/dev/null; then
  echo "SKIP k8s_render: no kubectl and none installable (kubernetes-client)"
  exit 0
fi
"$PY" -c 'import yaml' 2>/dev/null || bash scripts/deps.sh python3-yaml
for b in ztna ztna-intermediate; do
  [ -x "$BUILD/$b" ] || { echo "missing $BUILD/$b: run make" >&2; exit 1; }
done
work=$(mktemp -d /tmp/ztna-k8s.XXXXXX)
trap 'rm -rf "$work"' EXIT

# A PKI as an operator makes one, and the Secrets from it.
z=$BUILD/ztna
"$z" ca init --dir "$work/pki" --name k8s-test-ca >/dev/null &&
  "$z" cert issue --ca-dir "$work/pki" --role intermediate --name intermediate \
    --ip 203.0.113.10 --out "$work/pki/intermediate" >/dev/null &&
  "$z" cert issue --ca-dir "$work/pki" --role connector --name conn-a \
    --out "$work/pki/conn-a" >/dev/null || { echo "FAIL pki"; exit 1; }
if ! bash deploy/k8s/make-secrets.sh "$work/pki" "$work/pki/intermediate" \
  "$work/pki/conn-a" >"$work/secrets.yaml" 2>"$work/err"; then
  echo "FAIL make-secrets.sh: $(cat "$work/err")"
  exit 1
fi

failures=0
# The checker must fail on a render whose readiness probe misses
# metrics_listen, and whose connector gained a capability.
kubectl kustomize deploy/k8s/overlays/aws >"$work/good.yaml"
"$PY" -c '
import sys, yaml
docs = list(yaml.safe_load_all(sys.stdin))
for d in docs:
    if d and d["kind"] == "Deployment":
        c = d["spec"]["template"]["spec"]["containers"][0]
        c["readinessProbe"]["httpGet"]["port"] = 9999
        if d["metadata"]["name"] == "ztna-connector":
            c["securityContext"]["capabilities"]["add"].append("SYS_ADMIN")
yaml.safe_dump_all(docs, sys.stdout)' <"$work/good.yaml" >"$work/bad.yaml"
if "$PY" tests/deploy/k8s_check.py aws "$work/bad.yaml" "$work/secrets.yaml" \
  "$BUILD/ztna-intermediate" >"$work/bad.out" 2>&1; then
  echo "FAIL self-check: a broken render passed"
  failures=$((failures + 1))
elif grep -q 'readinessProbe port 9999' "$work/bad.out" && grep -q 'SYS_ADMIN' "$work/bad.out"; then
  echo "PASS self-check: a broken render is refused ($(grep -c '^FAIL' "$work/bad.out") findings)"
else
  echo "FAIL self-check: refused for other reasons: $(cat "$work/bad.out")"
  failures=$((failures + 1))
fi

for o in deploy/k8s/overlays/*/; do
  name=$(basename "$o")
  if ! kubectl kustomize "$o" >"$work/$name.yaml" 2>"$work/err"; then
    echo "FAIL $name: kubectl kustomize: $(cat "$work/err")"
    failures=$((failures + 1))
    continue
  fi
  "$PY" tests/deploy/k8s_check.py "$name" "$work/$name.yaml" "$work/secrets.yaml" \
    "$BUILD/ztna-intermediate" || failures=$((failures + 1))
done
echo
echo "k8s_render: $failures failed; wall time ${SECONDS} s"
exit "$failures"
