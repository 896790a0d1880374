# SPDX-License-Identifier: Apache-2.0
"""Naming functions against the library's own vectors (bindings/testdata/naming_vectors.json)."""

import errno

import pytest

import hostdev
from hostdev import naming


def test_resource_vendor(naming_vectors):
    for v in naming_vectors["resource_vendor"]:
        assert naming.resource_vendor(v["vendor_name"]) == v["expected"], v


def test_pci_resource(naming_vectors):
    for v in naming_vectors["pci_resource"]:
        name = naming.pci_resource(v["vendor_name"], v["device_name"], v["device_id"])
        assert name == v["expected"], v
        assert naming.is_valid_resource_name(name)


def test_pci_object_name(naming_vectors):
    for v in naming_vectors["pci_object_name"]:
        assert naming.pci_object_name(v["node"], v["address"]) == v["expected"]


def test_usb_object_name(naming_vectors):
    for v in naming_vectors["usb_object_name"]:
        assert naming.usb_object_name(v["node"], v["vendor_id"], v["product_id"], v["busnum"],
                                      v["devnum"]) == v["expected"]


def test_pci_description(naming_vectors):
    for v in naming_vectors["pci_description"]:
        assert naming.pci_description(v["class_name"], v["subclass_name"], v["class_code"],
                                      v["vendor_name"], v["vendor_id"], v["device_name"],
                                      v["device_id"]) == v["expected"], v


def test_kubevirt_env(naming_vectors):
    for v in naming_vectors["kubevirt_env"]:
        assert naming.kubevirt_env(v["prefix"], v["resource_name"]) == v["expected"]


def test_check_resource_name(naming_vectors):
    for name in naming_vectors["valid_resource_names"]:
        assert naming.is_valid_resource_name(name), name
    for name in naming_vectors["invalid_resource_names"]:
        assert not naming.is_valid_resource_name(name), name
    assert not naming.is_valid_resource_name(None)


def test_invalid_input_raises():
    with pytest.raises(hostdev.InvalidArgument) as e:
        naming.pci_object_name(None, "0000:08:00.0")
    assert e.value.errno == errno.EINVAL and "pci_object_name" in e.value.message
    with pytest.raises(hostdev.InvalidArgument):
        naming.kubevirt_env("PCI_RESOURCE", None)
    with pytest.raises(TypeError):
        naming.pci_resource("Intel Corporation", "x", "not a number")
    with pytest.raises(OverflowError):
        naming.pci_resource("Intel Corporation", "x", -1)


def test_name_max():
    assert naming.NAME_MAX == 512
