# SPDX-License-Identifier: Apache-2.0
import pytest

from agent_harness import AGENT_CRDS, Agent, StandIn


@pytest.fixture
def api(tmp_path):
    """The stand-in API server (tests/agent/apiserver: a real kube-apiserver cannot run here) with
    the agent's CRDs and a Node "node1"."""
    with StandIn(tmp_path / "api", crds=[AGENT_CRDS]) as s:
        s.create_node("node1")
        yield s
        print("---- stand-in log\n" + s.log_text()[-20000:])


@pytest.fixture
def agents():
    """Agents started by a test; every one still running is killed at the end."""
    started = []

    def start(*args, **kw):
        a = Agent(*args, **kw)
        started.append(a)
        return a
    yield start
    for i, a in enumerate(started):
        a.kill()
        # Shown by pytest when the test failed.
        print(f"---- agent {i}: {' '.join(a.cmd)}\n{a.log()}")
