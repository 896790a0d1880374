#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Tests of `hostdev openshift iommu|vfiopci|hyperconverged` and of `hostdev persist modprobe`.

Usage: test_openshift.py --hostdev PATH CASE          (exit 0 pass, 1 fail, 77 skip)
       test_openshift.py --hostdev PATH --check-registered CASE...

Each case builds the CLI tests' fake root (make_fake_root.py: a GPU 10de:1eb8 whose audio function
10de:10f8 shares IOMMU group 1 behind a root port, an X710 with VFs, ...), fills its persistent list
with `hostdev persist add`, and checks the printed objects:
  - parsed with PyYAML (python3-yaml) and, for --json, with json: both give the same object;
  - validated strictly against openshift_schema.py, the MachineConfig / Ignition 3.2.0 /
    HyperConverged facts written down from their public API documentation (no kube-apiserver or
    Machine Config Operator can run here): required fields, types, enums, unknown fields refused;
  - the Ignition data: URLs decode to exactly the file contents (`hostdev persist modprobe`);
  - read by real kubectl builds (the one on PATH and Debian's kubernetes-client, fetched by
    tests/agent/tools/fetch-kubectl.sh): `kubectl label --local` and `kubectl patch --local --type
    merge` run offline and must read the same objects, and apply the merge patch as the API server
    would (a JSON merge patch replaces lists and keeps the rest).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import openshift_schema as schema  # noqa: E402

PCI_IDS = os.path.join(HERE, "pci.ids")
KERNEL_VERSION = "6.1.0-hostdev-test"
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
SKIP = 77
GPU, AUDIO, ROOT_PORT, PF, VF0, VF1 = ("0000:01:00.0", "0000:01:00.1", "0000:00:01.0",
                                       "0000:3b:00.0", "0000:3b:02.0", "0000:3b:02.1")
INTEL_CPUINFO = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nflags\t\t: fpu vmx\n"
AMD_CPUINFO = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nflags\t\t: fpu svm\n"


class Failure(Exception):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


class Host:
    """A fresh fake root and the CLI run on it."""

    def __init__(self, hostdev):
        self.hostdev = hostdev
        self.tmp = tempfile.mkdtemp(prefix="hostdev-openshift-test.")
        self.root = os.path.join(self.tmp, "root")
        subprocess.run(["/usr/bin/python3", os.path.join(HERE, "make_fake_root.py"), self.root],
                       check=True)

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def cpuinfo(self, text):
        with open(os.path.join(self.root, "proc", "cpuinfo"), "w") as f:
            f.write(text)

    def run(self, *args, expect=0):
        cmd = [self.hostdev, "--root", self.root, "--pci-ids", PCI_IDS, "--modules-dir",
               os.path.join(self.root, "lib/modules", KERNEL_VERSION), *args]
        p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, LC_ALL="C"))
        check(p.returncode == expect, "hostdev %s: exit %d, expected %d\nstdout:\n%s\nstderr:\n%s"
              % (" ".join(args), p.returncode, expect, p.stdout, p.stderr))
        if expect == 0:
            check(p.stderr == "", "hostdev %s wrote to stderr: %r" % (" ".join(args), p.stderr))
        return p

    def error(self, args, expect, *needles):
        """Run a failing command: its exit code, one "hostdev: " line naming each needle."""
        p = self.run(*args, expect=expect)
        check(p.stdout == "", "hostdev %s printed %r on failure" % (" ".join(args), p.stdout))
        check(p.stderr.startswith("hostdev: ") and p.stderr.count("\n") == 1,
              "hostdev %s: not one error line: %r" % (" ".join(args), p.stderr))
        for needle in needles:
            check(needle in p.stderr, "hostdev %s: %r not in %r" % (" ".join(args), needle,
                                                                     p.stderr))
        return p.stderr

    def object(self, *args, document_schema):
        """The YAML output of hostdev ARGS, checked against --json and @document_schema."""
        text = self.run(*args).stdout
        doc = yaml.safe_load(text)
        as_json = json.loads(self.run(*args, "--json").stdout)
        check(doc == as_json, "YAML and --json differ:\n%r\n%r" % (doc, as_json))
        errors = schema.validate(doc, document_schema)
        check(not errors, "hostdev %s: schema violations:\n  %s\n%s"
              % (" ".join(args), "\n  ".join(errors), text))
        return doc, text


def machine_config_checks(doc, name, role):
    check(doc["metadata"]["name"] == name, "name %r" % doc["metadata"]["name"])
    check(doc["metadata"]["labels"] == {schema.MC_ROLE_LABEL: role}, str(doc["metadata"]))
    check(doc["spec"]["config"]["ignition"] == {"version": "3.2.0"}, str(doc["spec"]))


# ---------------------------------------------------------------------------------------------
# Cases


def case_iommu(h):
    h.cpuinfo(INTEL_CPUINFO)
    doc, text = h.object("openshift", "iommu", document_schema=schema.MACHINE_CONFIG)
    machine_config_checks(doc, "100-worker-iommu", "worker")
    check(doc["spec"]["kernelArguments"] == ["intel_iommu=on", "iommu=pt"], text)
    check(set(doc["spec"]) == {"config", "kernelArguments"}, text)
    # AMD: AMD-Vi is on by default; amd_iommu= has no "on" value, so only iommu=pt.
    h.cpuinfo(AMD_CPUINFO)
    doc, text = h.object("openshift", "iommu", "--role", "master",
                         document_schema=schema.MACHINE_CONFIG)
    machine_config_checks(doc, "100-master-iommu", "master")
    check(doc["spec"]["kernelArguments"] == ["iommu=pt"], text)
    check("amd_iommu" not in yaml.safe_dump(doc), text)
    # --cpu-vendor wins over cpuinfo; --name replaces the default name.
    doc, _ = h.object("openshift", "iommu", "--cpu-vendor", "intel", "--name", "99-gpu-iommu",
                      "--role", "worker-gpu", document_schema=schema.MACHINE_CONFIG)
    machine_config_checks(doc, "99-gpu-iommu", "worker-gpu")
    check(doc["spec"]["kernelArguments"] == ["intel_iommu=on", "iommu=pt"], str(doc))
    # Errors: what is wrong and what to pass.
    h.cpuinfo("processor\t: 0\nvendor_id\t: CentaurHauls\n")
    h.error(["openshift", "iommu"], 1, "unknown CPU vendor", "CentaurHauls", "--cpu-vendor")
    h.cpuinfo("processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n")
    h.error(["openshift", "iommu"], 1, "no vendor_id line", "--cpu-vendor intel")
    os.unlink(os.path.join(h.root, "proc", "cpuinfo"))
    h.error(["openshift", "iommu"], 1, "proc/cpuinfo", "No such file", "--cpu-vendor")
    h.error(["openshift", "iommu", "--cpu-vendor", "arm"], 2, "unknown --cpu-vendor 'arm'",
            "intel or amd")
    h.error(["openshift", "iommu", "--cpu-vendor", "intel", "--role", "gpu workers"], 2,
            "--role 'gpu workers' is not a valid label value")
    h.error(["openshift", "iommu", "--cpu-vendor", "intel", "--name", "GPU_iommu"], 2,
            "'GPU_iommu' is not a valid MachineConfig name")
    # A valid role that makes an invalid default name is told to pass --name.
    h.error(["openshift", "iommu", "--cpu-vendor", "intel", "--role", "GPU"], 2,
            "'100-GPU-iommu' is not a valid MachineConfig name", "--name NAME")


def expected_vfio_conf(h):
    return h.run("persist", "modprobe").stdout


def case_vfiopci(h):
    h.error(["openshift", "vfiopci"], 1, "persistent list", "is empty",
            "hostdev persist add")
    h.run("persist", "add", "--group", GPU)
    h.run("persist", "add", VF0)
    conf = expected_vfio_conf(h)
    doc, text = h.object("openshift", "vfiopci", document_schema=schema.MACHINE_CONFIG)
    machine_config_checks(doc, "100-worker-vfiopci", "worker")
    check(set(doc["spec"]) == {"config"}, "a vfiopci MachineConfig sets only files: %r" % doc)
    files = doc["spec"]["config"]["storage"]["files"]
    check([f["path"] for f in files] ==
          ["/etc/modprobe.d/vfio.conf", "/etc/modules-load.d/vfio-pci.conf"], str(files))
    contents = [schema.decode_data_url(f["contents"]["source"]) for f in files]
    check(contents[0] == conf.encode(), "vfio.conf in the MachineConfig:\n%r\n!= persist "
          "modprobe:\n%r" % (contents[0], conf))
    check(contents[1] == b"vfio-pci\n", repr(contents[1]))
    for f in files:
        check(f["mode"] == 0o644 and f["overwrite"] is True, str(f))
    # The group member (the GPU's audio function) and the softdeps are in the file, the bridge
    # of the group is not.
    check("options vfio-pci ids=10de:10f8,10de:1eb8,8086:154c\n" in conf, conf)
    check("# %s [10de:10f8] shares IOMMU group 1 with %s" % (AUDIO, GPU) in conf, conf)
    check("8086:1901" not in conf, "the root port of the group is included:\n" + conf)
    for module in ("nouveau", "nvidia", "snd_hda_intel", "iavf"):
        check("softdep %s pre: vfio-pci\n" % module in conf, conf)
    # The other VF has the listed VF's id: named as also claimed.
    check("also claimed: %s [8086:154c]" % VF1 in conf, conf)
    # The comment header shows the files for review.
    check("#   options vfio-pci ids=10de:10f8,10de:1eb8,8086:154c\n" in text, text)
    doc, _ = h.object("openshift", "vfiopci", "--role", "gpu", "--name", "50-gpu-vfio",
                      document_schema=schema.MACHINE_CONFIG)
    machine_config_checks(doc, "50-gpu-vfio", "gpu")
    h.error(["openshift", "vfiopci", "--cpu-vendor", "amd"], 2,
            "--cpu-vendor only applies to iommu")


def case_persist_modprobe_group(h):
    h.error(["persist", "modprobe"], 1, "is empty", "hostdev persist add")
    # Listed without --group: the audio function is still needed at boot, and the output says
    # that `hostdev apply` would refuse the group.
    h.run("persist", "add", GPU)
    conf = h.run("persist", "modprobe").stdout
    lines = conf.splitlines()
    check(lines[-1] == "options vfio-pci ids=10de:10f8,10de:1eb8", conf)
    check([l for l in lines if l.startswith("softdep")] ==
          ["softdep nouveau pre: vfio-pci", "softdep nvidia pre: vfio-pci",
           "softdep snd_hda_intel pre: vfio-pci"], conf)
    check("listed without its IOMMU group" in conf, conf)
    check(all(l.startswith(("#", "softdep ", "options ")) for l in lines), conf)
    # With the audio function listed too, it is not reported as a group member twice.
    h.run("persist", "add", "--group", GPU, AUDIO)
    conf = h.run("persist", "modprobe").stdout
    check("shares IOMMU group" not in conf and "listed without its IOMMU group" not in conf, conf)
    check(conf.endswith("options vfio-pci ids=10de:10f8,10de:1eb8\n"), conf)


def case_hyperconverged(h):
    h.error(["openshift", "hyperconverged"], 1, "persistent list", "is empty",
            "hostdev persist add", "--config FILE")
    h.run("persist", "add", "--group", GPU)
    h.run("persist", "add", VF0, VF1)
    doc, text = h.object("openshift", "hyperconverged",
                         document_schema=schema.HYPERCONVERGED_PATCH)
    pci = [{"pciDeviceSelector": "10de:1eb8", "resourceName": "nvidia.com/TU104GL_TESLA_T4"},
           {"pciDeviceSelector": "8086:154c",
            "resourceName": "intel.com/ETHERNET_VIRTUAL_FUNCTION_700_SERIES"}]
    check(doc == {"spec": {"permittedHostDevices": {"pciHostDevices": pci}}}, text)
    check("oc patch hyperconverged kubevirt-hyperconverged -n openshift-cnv --type merge" in text,
          text)
    doc, text = h.object("openshift", "hyperconverged", "--object",
                         document_schema=schema.HYPERCONVERGED)
    check(doc["metadata"] == {"name": "kubevirt-hyperconverged", "namespace": "openshift-cnv"},
          text)
    check(doc["spec"]["permittedHostDevices"]["pciHostDevices"] == pci, text)
    doc, _ = h.object("openshift", "hyperconverged", "--object", "--name", "hco", "--namespace",
                      "kubevirt-hyperconverged", document_schema=schema.HYPERCONVERGED)
    check(doc["metadata"] == {"name": "hco", "namespace": "kubevirt-hyperconverged"}, str(doc))
    # The device-plugin config: served by hostdev (externalResourceProvider), mdevs by their
    # KubeVirt name selector; with --persisted the list is added.
    doc, text = h.object("openshift", "hyperconverged", "--resource", "example.com/vgpu",
                         "--mdev-type", "nvidia-222", document_schema=schema.HYPERCONVERGED_PATCH)
    check(doc["spec"]["permittedHostDevices"] == {"mediatedDevices": [
        {"mdevNameSelector": "GRID_T4-1B", "resourceName": "example.com/vgpu",
         "externalResourceProvider": True}]}, text)
    config = os.path.join(h.tmp, "dp.json")
    with open(config, "w") as f:
        json.dump({"resources": [
            {"kind": "pci", "resourceName": "example.com/x710",
             "selectors": {"vendorDevice": ["8086:1572"]}},
            {"kind": "mdev", "resourceName": "example.com/t4-1b",
             "selectors": {"type": ["nvidia-222"]}}]}, f)
    doc, text = h.object("openshift", "hyperconverged", "--persisted", "--config", config,
                         document_schema=schema.HYPERCONVERGED_PATCH)
    permitted = doc["spec"]["permittedHostDevices"]
    check(permitted["pciHostDevices"] == [
        {"pciDeviceSelector": "8086:1572", "resourceName": "example.com/x710",
         "externalResourceProvider": True}] + pci, text)
    check(permitted["mediatedDevices"] == [
        {"mdevNameSelector": "GRID_T4-1B", "resourceName": "example.com/t4-1b",
         "externalResourceProvider": True}], text)
    check(list(permitted) == ["pciHostDevices", "mediatedDevices"], text)
    # Errors.
    h.error(["openshift", "hyperconverged", "--persisted", "--resource", "example.com/vf",
             "--pci-device", "8086:154c"], 2, "8086:154c is permitted twice",
            '"example.com/vf"', '"intel.com/ETHERNET_VIRTUAL_FUNCTION_700_SERIES"',
            "hostdev persist remove")
    # (a --pci-device id is permitted even with no such device yet: it may be plugged later)
    h.error(["openshift", "hyperconverged", "--resource", "example.com/none", "--mdev-type",
             "nvidia-999"], 1, "nothing to permit", "hostdev serve --dry-run")
    h.error(["openshift", "hyperconverged", "--namespace", "Openshift.CNV"], 2,
            "--namespace 'Openshift.CNV' is not a valid namespace")
    h.error(["openshift", "hyperconverged", "--name", "-hco"], 2, "--name '-hco'")
    h.error(["openshift", "hyperconverged", "--name", "hco.-x"], 2, "--name 'hco.-x'")
    h.error(["openshift", "hyperconverged", "--namespace", "openshift.cnv"], 2,
            "--namespace 'openshift.cnv'")
    h.error(["openshift", "hyperconverged", "--role", "master"], 2,
            "--role only applies to iommu and vfiopci")
    h.error(["openshift", "hyperconverged", "--config", config, "--resource", "example.com/a",
             "--pci-device", "8086:1572"], 2, "either --config FILE or one resource")
    # A listed device that is gone cannot be named.
    with open(os.path.join(h.root, "etc/hostdev/vfio-devices.json")) as f:
        listed = json.load(f)
    listed_text = json.dumps(listed).replace(VF1, "0000:3b:02.7")
    with open(os.path.join(h.root, "etc/hostdev/vfio-devices.json"), "w") as f:
        f.write(listed_text)
    h.error(["openshift", "hyperconverged"], 1, "0000:3b:02.7", "is not on this host",
            "hostdev persist remove 0000:3b:02.7")


def case_usage(h):
    h.error(["openshift"], 2, "missing action: iommu, vfiopci or hyperconverged")
    h.error(["openshift", "machineconfig"], 2, "unknown action 'machineconfig'")
    h.error(["openshift", "iommu", "extra"], 2, "unexpected argument 'extra'")
    h.error(["openshift", "iommu", "--object"], 2, "only apply to hyperconverged")
    h.error(["openshift", "vfiopci", "--config", "x.json"], 2, "only apply to hyperconverged")
    p = h.run("openshift", "--help")
    for word in ("iommu", "vfiopci", "hyperconverged", "--role", "--cpu-vendor", "--object",
                 "--namespace", "--persisted"):
        check(word in p.stdout, "--help lacks %s" % word)
    check("openshift" in h.run("--help").stdout, "hostdev --help lacks openshift")


def case_schema_refuses(h):
    """The stand-in validation can fail: each broken copy of a good object is refused."""
    h.cpuinfo(INTEL_CPUINFO)
    h.run("persist", "add", "--group", GPU)
    mc = yaml.safe_load(h.run("openshift", "vfiopci").stdout)
    hco = yaml.safe_load(h.run("openshift", "hyperconverged", "--object").stdout)
    check(not schema.validate(mc, schema.MACHINE_CONFIG), "good MachineConfig refused")
    check(not schema.validate(hco, schema.HYPERCONVERGED), "good HyperConverged refused")

    def broken(doc, path, value, top):
        copy = json.loads(json.dumps(doc))
        node = copy
        for key in path[:-1]:
            node = node[key]
        if value is DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value
        errors = schema.validate(copy, top)
        check(errors, "not refused: %s = %r" % ("/".join(map(str, path)), value))

    DELETE = object()
    files = ["spec", "config", "storage", "files"]
    broken(mc, ["spec", "config", "ignition", "version"], "3.4.0", schema.MACHINE_CONFIG)
    broken(mc, ["spec", "config", "ignition", "version"], DELETE, schema.MACHINE_CONFIG)
    broken(mc, ["spec", "kernelArgs"], ["iommu=pt"], schema.MACHINE_CONFIG)
    broken(mc, ["spec", "kernelType"], "rt", schema.MACHINE_CONFIG)
    broken(mc, files + [0, "mode"], "0644", schema.MACHINE_CONFIG)
    broken(mc, files + [0, "overwrite"], "yes", schema.MACHINE_CONFIG)
    broken(mc, files + [0, "path"], DELETE, schema.MACHINE_CONFIG)
    broken(mc, files + [0, "contents", "inline"], "x", schema.MACHINE_CONFIG)
    broken(mc, files + [0, "contents", "source"], "file:///x", schema.MACHINE_CONFIG)
    broken(mc, ["metadata", "namespace"], "default", schema.MACHINE_CONFIG)
    broken(mc, ["metadata", "labels", schema.MC_ROLE_LABEL], "bad role", schema.MACHINE_CONFIG)
    broken(mc, ["metadata", "name"], "100_Worker", schema.MACHINE_CONFIG)
    broken(mc, ["kind"], "MachineConfigPool", schema.MACHINE_CONFIG)
    pci = ["spec", "permittedHostDevices", "pciHostDevices", 0]
    broken(hco, pci + ["pciVendorSelector"], "10de:1eb8", schema.HYPERCONVERGED)
    broken(hco, pci + ["pciDeviceSelector"], DELETE, schema.HYPERCONVERGED)
    broken(hco, pci + ["pciDeviceSelector"], "10de-1eb8", schema.HYPERCONVERGED)
    broken(hco, pci + ["externalResourceProvider"], "true", schema.HYPERCONVERGED)
    broken(hco, ["spec", "permittedHostDevices", "usb"], [], schema.HYPERCONVERGED)
    broken(hco, ["apiVersion"], "kubevirt.io/v1", schema.HYPERCONVERGED)
    broken(hco, ["metadata", "namespace"], DELETE, schema.HYPERCONVERGED)
    for bad in ("data:;base64,@@@@", "data:;base64,abc", "http://x/vfio.conf"):
        try:
            schema.decode_data_url(bad)
        except ValueError:
            continue
        raise Failure("decode_data_url accepted %r" % bad)
    check(schema.decode_data_url("data:,options%20vfio-pci%0A") == b"options vfio-pci\n",
          "percent-encoded data URL")


def kubectl_builds():
    """[(label, path)] of the kubectl builds this machine has or can fetch, and notes."""
    builds, notes = [], []
    system = shutil.which("kubectl")
    if system:
        builds.append(("PATH", system))
    cache = os.environ.get("HOSTDEV_KUBECTL_CACHE")
    fetch = os.environ.get("HOSTDEV_FETCH_KUBECTL",
                           os.path.join(SOURCE_ROOT, "tests/agent/tools/fetch-kubectl.sh"))
    if cache:
        p = subprocess.run(["sh", fetch, cache], capture_output=True, text=True)
        if p.returncode == 0:
            builds.append(("Debian kubernetes-client", p.stdout.strip()))
        else:
            notes.append("Debian's kubectl could not be fetched: " + p.stderr.strip())
    return builds, notes


def case_kubectl_reads_objects(h):
    builds, notes = kubectl_builds()
    for note in notes:
        print(note)
    if not builds:
        print("SKIP: no kubectl on PATH and Debian's kubernetes-client could not be fetched")
        sys.exit(SKIP)
    h.cpuinfo(INTEL_CPUINFO)
    h.run("persist", "add", "--group", GPU)
    h.run("persist", "add", VF0)
    outputs = {}
    for name, args in (("iommu.yaml", ["iommu"]), ("vfiopci.yaml", ["vfiopci"]),
                       ("hco.yaml", ["hyperconverged", "--object"]),
                       ("patch.yaml", ["hyperconverged"])):
        path = os.path.join(h.tmp, name)
        text = h.run("openshift", *args).stdout
        with open(path, "w") as f:
            f.write(text)
        outputs[name] = (path, yaml.safe_load(text))
    # A HyperConverged as the cluster holds it: other spec fields and an older list.
    base = os.path.join(h.tmp, "cluster-hco.yaml")
    with open(base, "w") as f:
        yaml.safe_dump({"apiVersion": "hco.kubevirt.io/v1beta1", "kind": "HyperConverged",
                        "metadata": {"name": "kubevirt-hyperconverged",
                                     "namespace": "openshift-cnv"},
                        "spec": {"featureGates": {"downwardMetrics": False},
                                 "permittedHostDevices": {"pciHostDevices": [
                                     {"pciDeviceSelector": "10de:1db6",
                                      "resourceName": "nvidia.com/GV100GL_Tesla_V100"}]}}}, f)
    home = os.path.join(h.tmp, "kube-home")
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env.update(HOME=home)
    for label, kubectl in builds:
        def run(*args):
            p = subprocess.run([kubectl, *args], capture_output=True, text=True, env=env)
            check(p.returncode == 0, "%s kubectl %s: %s" % (label, " ".join(args), p.stderr))
            return json.loads(p.stdout)
        for name in ("iommu.yaml", "vfiopci.yaml", "hco.yaml"):
            path, doc = outputs[name]
            got = run("label", "--local", "-f", path, "-o", "json", "checked=yes")
            check(got["metadata"]["labels"].pop("checked") == "yes", str(got))
            if not got["metadata"]["labels"]:
                del got["metadata"]["labels"]
            check(got == doc, "%s kubectl reads %s differently:\n%r\n%r" % (label, name, got,
                                                                               doc))
        patch = outputs["patch.yaml"][1]
        got = run("patch", "--local", "-f", base, "--type", "merge", "-p", json.dumps(patch),
                  "-o", "json")
        check(got["spec"]["permittedHostDevices"] == patch["spec"]["permittedHostDevices"],
              "%s kubectl merge patch result: %r" % (label, got["spec"]))
        check(got["spec"]["featureGates"] == {"downwardMetrics": False}, str(got["spec"]))
        # The YAML text itself is a patch kubectl takes (-p reads YAML too).
        with open(outputs["patch.yaml"][0]) as f:
            got_yaml = run("patch", "--local", "-f", base, "--type", "merge", "-p", f.read(),
                           "-o", "json")
        check(got_yaml == got, "%s kubectl: YAML and JSON patches differ" % label)
        print("%s kubectl (%s): read 3 objects and applied the merge patch" % (label, kubectl))


CASES = {name[len("case_"):]: fn for name, fn in sorted(globals().items())
         if name.startswith("case_")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hostdev", required=True)
    ap.add_argument("--check-registered", action="store_true")
    ap.add_argument("cases", nargs="*")
    args = ap.parse_args()
    if args.check_registered:
        missing = sorted(set(CASES) - set(args.cases))
        unknown = sorted(set(args.cases) - set(CASES))
        if missing or unknown:
            print("not registered in CMakeLists.txt: %s; unknown: %s" % (missing, unknown))
            return 1
        return 0
    failed = 0
    for case in args.cases:
        if case not in CASES:
            print("unknown case %s (known: %s)" % (case, " ".join(CASES)))
            return 1
        h = Host(args.hostdev)
        try:
            CASES[case](h)
            print("PASS %s" % case)
        except Failure as e:
            print("FAIL %s: %s" % (case, e))
            failed += 1
        except Exception:
            traceback.print_exc()
            failed += 1
        finally:
            h.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
