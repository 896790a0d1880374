# SPDX-License-Identifier: Apache-2.0
"""The stand-in's PKI, made at start with the openssl CLI: a CA, a server certificate for the
loopback addresses and `localhost`/`kubernetes.default.svc`, and client certificates on demand
(CN = user, O = groups) for kubeconfigs that authenticate with a certificate."""
import os
import secrets
import subprocess

SERVER_SANS = ("IP:127.0.0.1", "IP:::1", "DNS:localhost", "DNS:kubernetes", "DNS:kubernetes.default",
               "DNS:kubernetes.default.svc", "DNS:kubernetes.default.svc.cluster.local")


def _run(args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args[:2])} failed: {r.stderr.strip()}")


def _serial():
    return "0x" + secrets.token_hex(16)


def make_ca(d):
    """ca.crt and ca.key in d (kept if they exist, so a restarted server keeps its CA)."""
    crt, key = os.path.join(d, "ca.crt"), os.path.join(d, "ca.key")
    if os.path.exists(crt) and os.path.exists(key):
        return crt, key
    _run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
          "-keyout", key, "-out", crt, "-days", "3650", "-subj", "/CN=hostdev-standin-ca",
          "-set_serial", _serial(),
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"], d)
    return crt, key


def _issue(d, stem, subject, extensions):
    key, csr, crt = (os.path.join(d, stem + s) for s in (".key", ".csr", ".crt"))
    ext = os.path.join(d, stem + ".ext")
    with open(ext, "w") as f:
        f.write("\n".join(extensions) + "\n")
    _run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
          "-out", csr, "-subj", subject], d)
    _run(["x509", "-req", "-in", csr, "-CA", os.path.join(d, "ca.crt"), "-CAkey", os.path.join(d, "ca.key"),
          "-set_serial", _serial(), "-out", crt, "-days", "3650", "-extfile", ext], d)
    os.unlink(csr)
    os.unlink(ext)
    return crt, key


def make_server_cert(d):
    crt, key = os.path.join(d, "server.crt"), os.path.join(d, "server.key")
    if os.path.exists(crt) and os.path.exists(key):
        return crt, key
    return _issue(d, "server", "/CN=kube-apiserver", [
        "basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth", "subjectAltName=" + ",".join(SERVER_SANS)])


def make_client_cert(d, user, groups=()):
    """A client certificate for user (CN) in groups (O); returns (cert path, key path)."""
    stem = "client-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in user)
    subject = "/CN=" + user.replace("/", "\\/") + "".join("/O=" + g.replace("/", "\\/") for g in groups)
    return _issue(d, stem, subject, ["basicConstraints=critical,CA:FALSE",
                                     "keyUsage=critical,digitalSignature,keyEncipherment",
                                     "extendedKeyUsage=clientAuth"])
