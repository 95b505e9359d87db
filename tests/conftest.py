"""Fixtures shared by every test layer (support code in tests/harness/).

    from harness.kube import wait_for_phase

    def test_example(kubectl, namespace, aws, operator_runner):
        aws.control.set_replication(replica_activation_calls=2)   # moto with replicas
        op = operator_runner.start("--namespace", namespace)      # the real operator
        kubectl("apply", "-n", namespace, "-f", str(REPO_ROOT / "examples/forumdatabase.yaml"))
        wait_for_phase(kubectl, "forum", namespace, "Ready")      # status of the resource

(tests/integration/harness/test_harness_end_to_end.py does exactly this.)

Costly servers are session-scoped (one per pytest-xdist worker, since each worker is its own
process); state that leaks between tests is reset per test (`aws`, `namespace`). Tools come
from `make setup` (.tools/bin); a missing tool fails the test with the command to run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.apiserver import ApiServer
from harness.helm import Helm
from harness.kube import Kubectl, delete_namespace
from harness.motoserver import MotoServer
from harness.operator_runner import OperatorRunner
from harness.procs import kill_leftovers
from harness.provision import ProvisionError, require_tool

REPO_ROOT = Path(__file__).resolve().parents[1]
CRD_DIR = REPO_ROOT / "crds"


def _tool(name: str) -> Path:
    try:
        return require_tool(name)
    except ProvisionError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def apiserver() -> Iterator[ApiServer]:
    """A real kube-apiserver + etcd with the project's crds/ applied (Established)."""
    server = ApiServer.start(kube_apiserver=_tool("kube-apiserver"), etcd=_tool("etcd"))
    try:
        server.apply_crds(server.kubectl(_tool("kubectl")), CRD_DIR)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def kubectl(apiserver: ApiServer) -> Kubectl:
    """The provisioned kubectl as the apiserver's admin: `kubectl("get", "forumdb")`."""
    return apiserver.kubectl(_tool("kubectl"))


@pytest.fixture
def namespace(apiserver: ApiServer, kubectl: Kubectl) -> Iterator[str]:
    """A fresh namespace; its custom resources and itself are deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    kubectl("create", "namespace", name)
    yield name
    delete_namespace(kubectl, name, apiserver.namespaced_crds)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """moto (with the forumdb extension) as its own process on 127.0.0.1."""
    server = MotoServer.start()
    yield server
    server.stop()


@pytest.fixture
def aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """The moto server, reset, with this process's boto3 pointed at it (AWS_* variables)."""
    moto_server.reset()
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in moto_server.env.items():
        monkeypatch.setenv(key, value)
    return moto_server


@pytest.fixture
def operator_runner(apiserver: ApiServer, aws: MotoServer) -> Iterator[OperatorRunner]:
    """Factory of `forum-operator` processes against `apiserver` and the reset moto server.

    `operator_runner.start("--namespace", ns, FORUMDB_DRIFT_INTERVAL="1") -> handle`; every
    operator started is stopped at teardown, and its logs are printed there (pytest shows them
    when the test failed).
    """
    workdir = Path(tempfile.mkdtemp(prefix="forumdb-operator-"))
    runner = OperatorRunner(kube_env=apiserver.env, aws_env=aws.env, workdir=workdir)
    try:
        yield runner
    finally:
        runner.stop_all()
        for handle in runner.handles:
            print(f"---- forum-operator pid {handle.pid} ({' '.join(handle.argv[1:])})")
            print(handle.logs())
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def helm() -> Iterator[Helm]:
    """The provisioned helm 3: `helm("template", "forum", "charts/forum")`. No cluster; use
    `helm.with_cluster(apiserver.env)` for install/upgrade against the test apiserver."""
    home = Path(tempfile.mkdtemp(prefix="forumdb-helm-"))
    yield Helm(_tool("helm"), home)
    shutil.rmtree(home, ignore_errors=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Prove that no server or operator outlived its fixture: kill any such group and fail."""
    leftovers = kill_leftovers()
    if leftovers:
        listed = ", ".join(f"{name} (pgid {pid})" for pid, name in leftovers.items())
        print(f"\nharness: processes left running after the session, killed now: {listed}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """`--dist loadgroup` with the real-node tier in one work unit (so on one worker: one node
    per machine). xdist 3.8 marks a group by suffixing `item._nodeid` with `@group`, which
    pytest 9 no longer reads (node ids come from `item._id`), so `xdist_group` marks alone
    group nothing here; the node tier is recognised by its test ids instead."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    from harness.node_cluster import is_node_test

    class NodeTierGrouping(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "node" if is_node_test(nodeid) else super()._split_scope(nodeid)

    return NodeTierGrouping(config, log)  # type: ignore[arg-type]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs the kube-apiserver carries the `apiserver` mark, so that
    `-m "not apiserver"` leaves them all out, whether or not their module marks them."""
    for item in items:
        if "apiserver" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.apiserver)
