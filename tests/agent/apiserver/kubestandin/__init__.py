# SPDX-License-Identifier: Apache-2.0
"""kubestandin: a STAND-IN for kube-apiserver, for hostdev's tests only.

A real kube-apiserver cannot run on the machines these tests run on (no Go toolchain new enough
to build one, no registry to pull one), so the tests talk to this Python server instead. It is
strict where the agent's correctness depends on it - it rejects what the real server rejects,
with the real server's Status bodies - and it says what it does not model. See README.md in the
parent directory for what is modelled and what is not, the command line, the control channel and
the pytest helper (kubestandin.harness)."""
