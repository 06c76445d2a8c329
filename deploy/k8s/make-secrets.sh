#!/usr/bin/env bash
# Prints the two certificate Secrets the base mounts, as YAML, from
# `ztna ca init` / `ztna cert issue` output (nothing is sent anywhere):
#
#   ztna ca init --dir pki --name my-ca
#   ztna cert issue --ca-dir pki --role intermediate --name intermediate \
#       --ip 203.0.113.10 --out pki/intermediate
#   ztna cert issue --ca-dir pki --role connector --name conn-a --out pki/conn-a
#   deploy/k8s/make-secrets.sh pki pki/intermediate pki/conn-a | kubectl apply -f -
#
# Usage: make-secrets.sh CA_DIR INTERMEDIATE_PREFIX CONNECTOR_PREFIX [NAMESPACE]
# (PREFIX.pem and PREFIX.key, as `ztna cert issue --out PREFIX` writes
# them; NAMESPACE defaults to ztna). Needs kubectl, not a cluster.
set -euo pipefail
if [ $# -lt 3 ] || [ $# -gt 4 ]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
ca=$1/ca.pem im=$2 co=$3 ns=${4:-ztna}
for f in "$ca" "$im.pem" "$im.key" "$co.pem" "$co.key"; do
  [ -r "$f" ] || { echo "make-secrets.sh: cannot read $f" >&2; exit 1; }
done
# The keys are the file names the Deployments' projected volumes expect.
kubectl create secret generic ztna-intermediate-tls --namespace "$ns" --dry-run=client -o yaml \
  --from-file=ca.pem="$ca" --from-file=intermediate.pem="$im.pem" \
  --from-file=intermediate.key="$im.key"
echo ---
kubectl create secret generic ztna-connector-tls --namespace "$ns" --dry-run=client -o yaml \
  --from-file=ca.pem="$ca" --from-file=connector.pem="$co.pem" \
  --from-file=connector.key="$co.key"
