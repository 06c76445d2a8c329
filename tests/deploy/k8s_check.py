#!/usr/bin/env python3
"""Checks one rendered overlay of deploy/k8s (k8s_render.sh).

usage: k8s_check.py OVERLAY RENDERED.yaml SECRETS.yaml ZTNA_INTERMEDIATE

Prints PASS/FAIL lines; exit status 1 when anything failed."""
import json
import os
import subprocess
import sys
import tempfile

import yaml

overlay, rendered, secrets_file, im_bin = sys.argv[1:5]
docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
secrets = [d for d in yaml.safe_load_all(open(secrets_file)) if d]
fails = []


def fail(msg):
    fails.append(msg)
    print(f"FAIL {overlay}: {msg}")


def find(kind, name):
    for d in docs:
        if d["kind"] == kind and d["metadata"]["name"] == name:
            return d
    return None


def port_of(addr):
    return int(addr.rsplit(":", 1)[1])


# ConfigMaps (as rendered, hash-suffixed names) and the Secrets of
# make-secrets.sh.
maps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
secs = {d["metadata"]["name"]: d.get("data", {}) for d in secrets}

# Which image each Deployment must run: the overlay's images: list.
kust = yaml.safe_load(open(f"deploy/k8s/overlays/{overlay}/kustomization.yaml"))
want_image = {i["name"]: f'{i["newName"]}:{i["newTag"]}' for i in kust.get("images", [])}


def mounted_files(pod):
    """{path under /etc/ztna: (kind, source name, key)} and failures for
    keys the volume names that its ConfigMap or Secret lacks."""
    files = {}
    for v in pod["volumes"]:
        for src in v.get("projected", {}).get("sources", []):
            for kind in ("configMap", "secret"):
                if kind not in src:
                    continue
                name = src[kind]["name"]
                have = maps.get(name) if kind == "configMap" else secs.get(name)
                if have is None:
                    fail(f"volume {v['name']}: {kind} {name} does not exist")
                    continue
                for it in src[kind].get("items", []):
                    if it["key"] not in have:
                        fail(f"volume {v['name']}: {kind} {name} has no key {it['key']}")
                    files[it["path"]] = (kind, name, it["key"])
    return files


def check_deployment(name, role, non_root, caps_add, cfg_file):
    d = find("Deployment", name)
    if d is None:
        fail(f"Deployment {name} missing")
        return None
    pod = d["spec"]["template"]["spec"]
    c = pod["containers"][0]
    if c["image"] != want_image.get(name):
        fail(f"{name}: image {c['image']}, expected {want_image.get(name)}")
    files = mounted_files(pod)
    if cfg_file not in files or files[cfg_file][0] != "configMap":
        fail(f"{name}: {cfg_file} not mounted from a ConfigMap")
        return None
    kind, src, key = files[cfg_file]
    cfg = json.loads(maps[src][key])
    # Every file the configuration names is in the mounted directory.
    for k in ("ca", "cert", "key"):
        p = cfg.get(k, "")
        if not p.startswith("/etc/ztna/") or p[len("/etc/ztna/"):] not in files:
            fail(f"{name}: \"{k}\": {p} is not a mounted file")
    if "policy" in cfg and isinstance(cfg["policy"], str) and cfg["policy"] not in files:
        fail(f"{name}: policy {cfg['policy']} is not mounted")
    # Probes on metrics_listen, which must not be loopback.
    ml = cfg.get("metrics_listen", "")
    if not ml or ml.startswith("127.") or ml.startswith("[::1]"):
        fail(f"{name}: metrics_listen {ml!r} unreachable for the kubelet's probes")
    else:
        mport = port_of(ml)
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            g = c.get(probe, {}).get("httpGet", {})
            if g.get("path") != path:
                fail(f"{name}: {probe} path {g.get('path')}, expected {path}")
            if g.get("port") != mport:
                fail(f"{name}: {probe} port {g.get('port')}, metrics_listen is {ml}")
    r = c.get("resources", {})
    for part in ("requests", "limits"):
        if not {"cpu", "memory"} <= set(r.get(part, {})):
            fail(f"{name}: resources.{part} lacks cpu or memory")
    sc = c.get("securityContext", {})
    psc = pod.get("securityContext", {})
    if sc.get("readOnlyRootFilesystem") is not True:
        fail(f"{name}: root file system not read-only")
    if sc.get("allowPrivilegeEscalation") is not False or sc.get("privileged"):
        fail(f"{name}: privilege escalation allowed")
    capd = sc.get("capabilities", {})
    if capd.get("drop") != ["ALL"]:
        fail(f"{name}: capabilities.drop is {capd.get('drop')}, expected [ALL]")
    if sorted(capd.get("add", [])) != caps_add:
        fail(f"{name}: capabilities.add is {capd.get('add', [])}, expected {caps_add}")
    if non_root:
        if not (psc.get("runAsNonRoot") or sc.get("runAsNonRoot")):
            fail(f"{name}: runAsNonRoot not set")
        uid = sc.get("runAsUser", psc.get("runAsUser"))
        if not uid:
            fail(f"{name}: runs as uid {uid}")
    if pod.get("hostNetwork"):
        fail(f"{name}: hostNetwork")
    return d, cfg


im = check_deployment("ztna-intermediate", "intermediate", True, [], "intermediate.json")
co = check_deployment("ztna-connector", "connector", False, ["NET_ADMIN"], "connector.json")

svc = find("Service", "ztna-intermediate")
if svc is None:
    fail("Service ztna-intermediate missing")
elif im:
    dep, cfg = im
    cports = {p["name"]: p for p in dep["spec"]["template"]["spec"]["containers"][0]["ports"]}
    listen = port_of(cfg["listen"])
    q = [p for p in svc["spec"]["ports"] if p["port"] == listen]
    if not q or q[0].get("protocol") != "UDP":
        fail(f"Service: no UDP port {listen} (listen {cfg['listen']})")
    for p in svc["spec"]["ports"]:
        t = cports.get(p["targetPort"]) if isinstance(p["targetPort"], str) else None
        if not t or t["protocol"] != p.get("protocol", "TCP"):
            fail(f"Service port {p['name']}: target {p['targetPort']} not a container port of that protocol")
        elif p["name"] == "quic" and t["containerPort"] != listen:
            fail(f"container port quic {t['containerPort']} != listen {listen}")
        elif p["name"] == "stun" and t["containerPort"] != cfg.get("stun_port", listen + 1):
            fail(f"container port stun {t['containerPort']} != the STUN port")
    sel = svc["spec"]["selector"]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    if any(labels.get(k) != v for k, v in sel.items()):
        fail("Service selector does not match the Intermediate's pods")
    if svc["spec"].get("type") != "LoadBalancer" or svc["spec"].get("externalTrafficPolicy") != "Local":
        fail("Service: not a LoadBalancer keeping client addresses (externalTrafficPolicy Local)")
    # The rendered configuration and policy are valid for the daemon.
    with tempfile.TemporaryDirectory() as t:
        files = mounted_files(dep["spec"]["template"]["spec"])
        for path, (kind, src, key) in files.items():
            if kind == "configMap":
                open(os.path.join(t, path), "w").write(maps[src][key])
        r = subprocess.run([im_bin, "--check-config", os.path.join(t, "intermediate.json")],
                           capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"ztna-intermediate --check-config: {r.stdout}{r.stderr}")

# What each overlay is for.
ann = (svc or {}).get("metadata", {}).get("annotations", {})
co_cfg = co[1] if co else {}
if overlay == "raspberry-pi":
    for n in ("ztna-intermediate", "ztna-connector"):
        d = find("Deployment", n)
        if d and d["spec"]["template"]["spec"].get("nodeSelector", {}).get("kubernetes.io/arch") != "arm64":
            fail(f"{n}: no arm64 nodeSelector")
    ip = ann.get("lbipam.cilium.io/ips")
    if not ip or ann.get("metallb.universe.tf/loadBalancerIPs") != ip:
        fail(f"no fixed LoadBalancer address: {ann}")
    elif co_cfg.get("intermediate") != f"{ip}:4433":
        fail(f"connector dials {co_cfg.get('intermediate')}, the Intermediate is at {ip}:4433")
elif overlay == "aws":
    if ann.get("service.beta.kubernetes.io/aws-load-balancer-type") != "external" or \
       ann.get("service.beta.kubernetes.io/aws-load-balancer-nlb-target-type") != "ip":
        fail(f"not an NLB with IP targets: {ann}")
    if im and ann.get("service.beta.kubernetes.io/aws-load-balancer-healthcheck-port") != \
            str(port_of(im[1]["metrics_listen"])):
        fail("NLB health check port is not metrics_listen's")
    if ann.get("service.beta.kubernetes.io/aws-load-balancer-healthcheck-path") != "/readyz":
        fail("NLB health check path is not /readyz")
elif overlay == "digitalocean":
    if ann.get("service.beta.kubernetes.io/do-loadbalancer-healthcheck-protocol") != "http":
        fail(f"DigitalOcean load balancer health check not http: {ann}")
else:
    fail("unknown overlay: add its checks to tests/deploy/k8s_check.py")
if co_cfg.get("intermediate", "").startswith("192.0.2."):
    fail("connector still dials the base's placeholder address")

if not fails:
    print(f"PASS {overlay}: images, UDP ports, probes on metrics_listen, securityContext, "
          f"ConfigMap/Secret keys, --check-config, overlay specifics")
sys.exit(1 if fails else 0)
