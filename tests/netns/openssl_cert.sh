# zt_openssl_cert OUT START END KEY CA_DIR URI: a certificate for KEY,
# issued by the deployment CA in CA_DIR (ca.pem, ca.key) with the dates
# given (openssl ca: YYMMDDHHMMSSZ, any dates, unlike ztna cert issue) and
# the identity URI as ztna issues it (SAN URI ztna://role/name). Errors in
# $ZT_WORK/oca/err. Shared by certs.sh and revoke.sh.
zt_openssl_cert() {
  local out=$1 start=$2 end=$3 key=$4 ca=$5 uri=$6 d="$ZT_WORK/oca"
  mkdir -p "$d" && : >"$d/index.txt" && echo 01 >"$d/serial"
  cat >"$d/ca.cnf" <<EOF
[ca]
default_ca = zt
[zt]
database = $d/index.txt
serial = $d/serial
new_certs_dir = $d
default_md = sha256
policy = any
copy_extensions = none
x509_extensions = leaf
unique_subject = no
[any]
commonName = supplied
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = URI:$uri
EOF
  openssl req -new -key "$key" -subj "/CN=${uri##*/}" -out "$d/req.csr" 2>"$d/err" &&
    openssl ca -batch -config "$d/ca.cnf" -cert "$ca/ca.pem" -keyfile "$ca/ca.key" \
      -startdate "$start" -enddate "$end" -in "$d/req.csr" -out "$out" -notext 2>>"$d/err" >/dev/null
}
