# SPDX-License-Identifier: Apache-2.0
"""The schema facts `hostdev openshift` output is checked against, written down from the public API
documentation (no OpenShift cluster or kube-apiserver can run here, so this is the stand-in for their
validation, and it is stricter than they are: a field not listed is refused).

Sources (read 2026-12):
  MC   MachineConfig [machineconfiguration.openshift.io/v1], OpenShift Container Platform "Machine
       APIs" reference: https://docs.redhat.com/en/documentation/openshift_container_platform/4.19/
       html/machine_apis/machineconfig-machineconfiguration-openshift-io-v1
       (spec: baseOSExtensionsContainerImage, config = an Ignition config, extensions, fips,
       kernelArguments, kernelType, osImageURL), and the OpenShift Virtualization procedure
       "Adding kernel arguments to enable the IOMMU driver"
       (openshift-docs modules/virt-adding-kernel-arguments-enable-iommu.adoc: label
       machineconfiguration.openshift.io/role, name 100-worker-iommu, ignition version 3.2.0).
  IGN  Ignition configuration specification v3.2.0: https://coreos.github.io/ignition/configuration-v3_2/
       (storage.files[]: path required; overwrite, contents{compression, source, httpHeaders,
       verification{hash}}, append, mode integer, user{id,name}, group{id,name}; contents.source is a
       URL, schemes http, https, tftp, s3, gs, data; compression null or "gzip").
  RFC  Data URLs: RFC 2397, data:[<mediatype>][;base64],<data>.
  HCO  kubevirt/hyperconverged-cluster-operator docs/api.md (HyperConverged hco.kubevirt.io/v1beta1;
       HyperConvergedSpec.permittedHostDevices: PermittedHostDevices{pciHostDevices,
       usbHostDevices, mediatedDevices}; PciHostDevice{pciDeviceSelector (required),
       resourceName (required), externalResourceProvider, disabled}; MediatedHostDevice
       {mdevNameSelector (required), resourceName (required), externalResourceProvider,
       disabled}; USBHostDevice{resourceName (required), selectors[USBSelector{vendor, product
       (both required)}], externalResourceProvider, disabled}), and docs/cluster-configuration.md.
       Default CR name kubevirt-hyperconverged in namespace openshift-cnv (OpenShift
       Virtualization docs, "Exposing PCI host devices in the cluster").
  K8S  Object names (RFC 1123 subdomain, 253), namespaces (RFC 1123 label, 63), label keys and
       values (63, [A-Za-z0-9] ends, -_. inside): https://kubernetes.io/docs/concepts/overview/
       working-with-objects/names/ and .../labels/#syntax-and-character-set.
"""
import base64
import re
import urllib.parse

SUBDOMAIN = r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS_LABEL = r"^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
LABEL_VALUE = r"^(?=.{1,63}$)[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
LABEL_KEY = (r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
             r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
# An extended resource name: a domain-prefixed name (K8S, "Resource names").
RESOURCE_NAME = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
PCI_ID = r"^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$"
HEX4 = r"^[0-9a-fA-F]{4}$"


def obj(properties, required=()):
    return {"type": "object", "properties": properties, "required": list(required)}


def string(pattern=None, enum=None):
    s = {"type": "string"}
    if pattern:
        s["pattern"] = pattern
    if enum:
        s["enum"] = enum
    return s


def array(items):
    return {"type": "array", "items": items}


def string_map(key_pattern, value_pattern):
    return {"type": "map", "key": key_pattern, "value": string(value_pattern)}


BOOL = {"type": "boolean"}
INT = {"type": "integer"}
STR = string()

# IGN: the node-level parts of an Ignition 3.2.0 config. Only storage.files is described down to
# its leaves; the other sections are listed so that a misspelt key is still refused.
IGN_RESOURCE = obj({
    "compression": {"type": "nullable-string", "enum": [None, "gzip"]},
    "httpHeaders": array(obj({"name": STR, "value": STR}, ["name"])),
    "source": string(r"^(https?|tftp|s3|gs|data):"),
    "verification": obj({"hash": string(r"^(sha512|sha256)-[0-9a-f]+$")}),
})
IGN_NODE_USER = obj({"id": INT, "name": STR})
IGN_FILE = obj({
    "path": string(r"^/"),
    "overwrite": BOOL,
    "contents": IGN_RESOURCE,
    "append": array(IGN_RESOURCE),
    "mode": INT,
    "user": IGN_NODE_USER,
    "group": IGN_NODE_USER,
}, ["path"])
ANY_LIST = {"type": "array", "items": {"type": "any"}}
IGNITION_CONFIG = obj({
    "ignition": obj({
        "version": string(enum=["3.2.0"]),
        "config": {"type": "any"}, "timeouts": {"type": "any"}, "security": {"type": "any"},
        "proxy": {"type": "any"},
    }, ["version"]),
    "storage": obj({
        "disks": ANY_LIST, "raid": ANY_LIST, "filesystems": ANY_LIST,
        "files": array(IGN_FILE), "directories": ANY_LIST, "links": ANY_LIST, "luks": ANY_LIST,
    }),
    "systemd": obj({"units": ANY_LIST}),
    "passwd": obj({"users": ANY_LIST, "groups": ANY_LIST}),
}, ["ignition"])

# MC: MachineConfig is cluster-scoped: metadata has no namespace.
MACHINE_CONFIG = obj({
    "apiVersion": string(enum=["machineconfiguration.openshift.io/v1"]),
    "kind": string(enum=["MachineConfig"]),
    "metadata": obj({
        "name": string(SUBDOMAIN),
        "labels": string_map(LABEL_KEY, LABEL_VALUE),
        "annotations": string_map(LABEL_KEY, None),
    }, ["name", "labels"]),
    "spec": obj({
        "baseOSExtensionsContainerImage": STR,
        "config": IGNITION_CONFIG,
        "extensions": array(STR),
        "fips": BOOL,
        "kernelArguments": array(STR),
        "kernelType": string(enum=["default", "realtime", "64k-pages"]),
        "osImageURL": STR,
    }, ["config"]),
}, ["apiVersion", "kind", "metadata", "spec"])
MC_ROLE_LABEL = "machineconfiguration.openshift.io/role"

# HCO
PCI_HOST_DEVICE = obj({
    "pciDeviceSelector": string(PCI_ID), "resourceName": string(RESOURCE_NAME),
    "externalResourceProvider": BOOL, "disabled": BOOL,
}, ["pciDeviceSelector", "resourceName"])
MEDIATED_HOST_DEVICE = obj({
    "mdevNameSelector": STR, "resourceName": string(RESOURCE_NAME),
    "externalResourceProvider": BOOL, "disabled": BOOL,
}, ["mdevNameSelector", "resourceName"])
USB_HOST_DEVICE = obj({
    "resourceName": string(RESOURCE_NAME),
    "selectors": array(obj({"vendor": string(HEX4), "product": string(HEX4)},
                           ["vendor", "product"])),
    "externalResourceProvider": BOOL, "disabled": BOOL,
}, ["resourceName"])
PERMITTED_HOST_DEVICES = obj({
    "pciHostDevices": array(PCI_HOST_DEVICE),
    "usbHostDevices": array(USB_HOST_DEVICE),
    "mediatedDevices": array(MEDIATED_HOST_DEVICE),
})
# Of HyperConvergedSpec only permittedHostDevices is listed: the CLI never emits the others.
HCO_SPEC = obj({"permittedHostDevices": PERMITTED_HOST_DEVICES}, ["permittedHostDevices"])
HYPERCONVERGED = obj({
    "apiVersion": string(enum=["hco.kubevirt.io/v1beta1"]),
    "kind": string(enum=["HyperConverged"]),
    "metadata": obj({"name": string(SUBDOMAIN), "namespace": string(DNS_LABEL)},
                    ["name", "namespace"]),
    "spec": HCO_SPEC,
}, ["apiVersion", "kind", "metadata", "spec"])
# The JSON merge patch (RFC 7386) for `oc patch --type merge`: only the spec part.
HYPERCONVERGED_PATCH = obj({"spec": HCO_SPEC}, ["spec"])


def validate(value, schema, path="$"):
    """The list of schema violations of @value (empty when it conforms)."""
    t = schema["type"]
    errors = []
    if t == "any":
        return errors
    if t == "object":
        if not isinstance(value, dict):
            return ["%s: expected an object, got %r" % (path, value)]
        for key in schema["required"]:
            if key not in value:
                errors.append("%s: required field %r is missing" % (path, key))
        for key, v in value.items():
            if key not in schema["properties"]:
                errors.append("%s: unknown field %r" % (path, key))
            else:
                errors += validate(v, schema["properties"][key], "%s.%s" % (path, key))
        return errors
    if t == "map":
        if not isinstance(value, dict):
            return ["%s: expected a map, got %r" % (path, value)]
        for key, v in value.items():
            if not isinstance(key, str) or not re.match(schema["key"], key):
                errors.append("%s: invalid key %r" % (path, key))
            errors += validate(v, schema["value"], "%s[%r]" % (path, key))
        return errors
    if t == "array":
        if not isinstance(value, list):
            return ["%s: expected a list, got %r" % (path, value)]
        for i, v in enumerate(value):
            errors += validate(v, schema["items"], "%s[%d]" % (path, i))
        return errors
    if t == "boolean":
        return [] if isinstance(value, bool) else ["%s: expected a boolean, got %r" % (path, value)]
    if t == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else ["%s: expected an integer, got %r" % (path, value)]
    if t in ("string", "nullable-string"):
        if value is None and t == "nullable-string":
            return []
        if not isinstance(value, str):
            return ["%s: expected a string, got %r" % (path, value)]
        if "enum" in schema and value not in schema["enum"]:
            errors.append("%s: %r is not one of %r" % (path, value, schema["enum"]))
        if schema.get("pattern") and not re.match(schema["pattern"], value):
            errors.append("%s: %r does not match %s" % (path, value, schema["pattern"]))
        return errors
    raise ValueError("unknown schema type %r" % t)


def decode_data_url(url):
    """The bytes of an RFC 2397 data URL; ValueError when it is not one."""
    m = re.match(r"^data:([^,]*),(.*)$", url, re.S)
    if not m:
        raise ValueError("not a data URL: %r" % url[:60])
    params, data = m.group(1).split(";"), m.group(2)
    if params[-1] == "base64":
        if not re.match(r"^[A-Za-z0-9+/]*={0,2}$", data) or len(data) % 4:
            raise ValueError("invalid base64 in data URL")
        return base64.b64decode(data, validate=True)
    return urllib.parse.unquote_to_bytes(data)
