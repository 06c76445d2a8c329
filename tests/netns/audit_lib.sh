# shellcheck shell=bash
# The audit log in namespace tests and the demo (docs/audit.md): turn it on
# in the generated configs, find lines by field, show them. Sourced after
# ztna-env.sh (uses $ZT_PY and $ZT_WORK); the checks after harness.sh.

# zt_json_set FILE KEY VALUE...: sets string keys of a daemon's JSON
# config (the generated configs are edited as JSON, not as text).
zt_json_set() {
  "$ZT_PY" - "$@" <<'PY'
import json, sys
path, kv = sys.argv[1], sys.argv[2:]
c = json.load(open(path))
c.update(zip(kv[::2], kv[1::2]))
json.dump(c, open(path, "w"), indent=1)
PY
}

# zt_audit_on CONFIG LOG...: pairs of a daemon's config and the file to
# set as its audit_log.
zt_audit_on() {
  while [ $# -ge 2 ]; do
    zt_json_set "$1" audit_log "$2" || return 1
    shift 2
  done
}

# zt_audit_has FILE FIELD=VALUE...: some line of FILE has every FIELD equal
# to VALUE (null: JSON null; numbers compared as text; FIELD~VALUE: the
# field contains VALUE). Every line of the file must parse and hold every
# documented field, or it fails either way.
zt_audit_has() {
  "$ZT_PY" - "$@" <<'PY'
import json, re, sys
FIELDS = {"ts": str, "event": str, "identity": (str, type(None)),
          "source": (str, type(None)), "service": (str, type(None)),
          "connector": (str, type(None)), "port": (int, type(None)),
          "proto": (str, type(None)), "decision": str,
          "rule": (str, type(None)), "reason": (str, type(None))}
path = sys.argv[1]
want = [re.match(r"([a-z_]+)([=~])(.*)", a, re.S).groups() for a in sys.argv[2:]]
def text(v): return "null" if v is None else str(v)
found = False
for n, raw in enumerate(open(path, encoding="utf-8"), 1):
    line = json.loads(raw)
    for k, t in FIELDS.items():
        if k not in line or not isinstance(line[k], t):
            sys.exit(f"{path}:{n}: field {k} missing or of the wrong type: {raw}")
    if line["decision"] not in ("allow", "deny"):
        sys.exit(f"{path}:{n}: decision {line['decision']}")
    found = found or all(text(line.get(k)) == v if op == "=" else v in text(line.get(k))
                         for k, op, v in want)
sys.exit(0 if found else f"no line with {sys.argv[2:]} in {path}")
PY
}

# zt_audit_check NAME FILE FIELD=VALUE...: PASS/FAIL on zt_audit_has,
# waiting up to 5 s for the line (the daemons write it when they decide).
zt_audit_check() {
  local name=$1 i out
  shift
  for ((i = 0; i < 50; i++)); do
    out=$(zt_audit_has "$@" 2>&1) && { pass "$name"; return 0; }
    sleep 0.1
  done
  fail "$name" "$out"
}

# zt_audit_show FILE [FIELD=VALUE...]: the lines (after the first SKIP
# lines: ZT_AUDIT_SKIP) matching every FIELD=VALUE, one short line each:
# time, event, decision, identity, service/port, rule, reason.
zt_audit_show() {
  "$ZT_PY" - "${ZT_AUDIT_SKIP:-0}" "$@" <<'PY'
import json, sys
skip, path, want = int(sys.argv[1]), sys.argv[2], dict(a.split("=", 1) for a in sys.argv[3:])
for raw in open(path, encoding="utf-8").readlines()[skip:]:
    l = json.loads(raw)
    if any(("null" if l.get(k) is None else str(l.get(k))) != v for k, v in want.items()):
        continue
    what = l["service"] or ""
    if l["proto"]:
        what += f" {l['proto']}" + (f"/{l['port']}" if l["port"] is not None else "")
    print(f"   {l['ts'][11:23]} {l['event']:<13} {l['decision']:<5} {l['identity'] or '-':<18} "
          f"{what or '-':<14} rule={l['rule']}" + (f"  ({l['reason']})" if l["reason"] else ""))
PY
}
