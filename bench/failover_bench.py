"""Benchmark of the operator's automatic regional failover, end to end on this machine.

Run by hand, after `make setup`:

    .venv/bin/python bench/failover_bench.py [--repeat 5] [--interval 1] [--threshold 3]

Each run: a fresh namespace and moto state, forum-operator, a ForumDatabase (primary us-east-1,
replica us-west-2, failover Automatic) brought to Ready, a forum-service (users) whose config
folder mirrors the operator's ConfigMap every 0.1 s (a kubelet stand-in), and a client writing
through it steadily. Then the primary region goes down (the moto extension's region outage) and
two times are measured, from the start of the outage:
- detection: until the operator has switched the ConfigMap's AWS_REGION (it takes
  `--threshold` failed health checks, `--interval` seconds apart);
- switch: from there until the first write acknowledged in the replica region (config folder
  reload, new store, the next request).
Then the RPO runs (`--lag-runs`): the same outage with a replication lag; the writer runs for
longer than the lag first, and the writes acknowledged in the primary that the services cannot
read in the DR region at the switch are counted, with the age of the oldest of them (the
lag bounds it: tests/integration/failover asserts that bound, this measures the window).
Results (min/median/max) go to bench/results/failover.md.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "integration" / "failover"))

from failover_kit import (  # noqa: E402
    DR,
    NAME,
    PRIMARY,
    ConfigMirror,
    OutageRun,
    Writer,
    acked_before,
    forumdatabase,
    measure_outage,
    missing_acks,
    start_service,
)

from harness.apiserver import ApiServer  # noqa: E402
from harness.kube import wait_for_phase  # noqa: E402
from harness.motoserver import MotoServer  # noqa: E402
from harness.operator_runner import OperatorRunner  # noqa: E402
from harness.procs import wait_for  # noqa: E402
from harness.provision import require_tool  # noqa: E402

RESULTS = REPO / "bench" / "results" / "failover.md"
HEADER = (
    "| run | detection | switch | writes back | requests failed in the outage "
    "| writes acknowledged | acknowledged, not readable after |\n"
    "| --- | --- | --- | --- | --- | --- | --- |"
)


@dataclass
class RunResult:
    run: OutageRun
    acked: int  # writes acknowledged in the whole run
    before: int  # acknowledged before the switch (in the primary)
    at_switch: int  # of those, not readable in the DR region right after the switch
    oldest_missing: float  # age (s) at the check of the oldest of them; 0 if none
    lost: int  # acknowledged, not readable at the end (primary back, lag passed)


def one_run(
    i: int,
    api: ApiServer,
    moto: MotoServer,
    runner: OperatorRunner,
    kubectl,
    args,
    work: Path,
    lag: float = 0,
) -> RunResult:
    """One outage of the primary under steady writes."""
    moto.reset()
    moto.control.set_replication(replica_activation_calls=2, lag_seconds=lag)
    ns = f"bench-failover-{i}"
    kubectl("create", "namespace", ns)
    op = runner.start("--namespace", ns)
    op.wait_healthy()
    kubectl.apply(
        forumdatabase(mode="Automatic", interval=args.interval, threshold=args.threshold),
        namespace=ns,
    )
    wait_for_phase(kubectl, NAME, ns, "Ready", timeout=120)
    folder = work / f"cm-{i}"
    mirror = ConfigMirror(api.kubeconfig, ns, f"forumdb-{NAME}", folder).start()
    service = start_service(folder, moto.env, work)
    try:
        wait_for(lambda: service.ready()["storage"]["region"] == PRIMARY, timeout=30)
        writer = Writer(service.url).start()
        wait_for(lambda: len(writer.acks) >= 10, timeout=60, what="writes before the outage")
        if lag:  # writes older than the lag too, so that the window shows its edge
            wait_for(
                lambda: writer.acks[0].at < time.monotonic() - lag - 1,
                timeout=lag + 60,
                what="writes older than the lag",
            )
        run = measure_outage(moto.control, mirror, writer, region=PRIMARY, to=DR, timeout=120)
        before = acked_before(writer.acks, run.switched_at)
        checked_at = time.monotonic()
        missing = missing_acks(service.url, before)
        writer.stop()
        moto.control.region_outage(PRIMARY, down=False)
        time.sleep(lag + 1 if lag else 0)  # let the replication lag pass
        return RunResult(
            run=run,
            acked=len(writer.acks),
            before=len(before),
            at_switch=len(missing),
            oldest_missing=max((checked_at - a.at for a in missing), default=0.0),
            lost=len(missing_acks(service.url, writer.acks)),
        )
    finally:
        mirror.stop()
        service.stop()
        op.stop()


def stats(values: list[float]) -> str:
    return f"{min(values):.2f} | {statistics.median(values):.2f} | {max(values):.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--interval", type=int, default=1, help="healthCheckIntervalSeconds")
    ap.add_argument("--threshold", type=int, default=3, help="failureThreshold")
    ap.add_argument("--lag", type=float, default=10.0, help="replication lag of the RPO runs")
    ap.add_argument("--lag-runs", type=int, default=2, help="runs with --lag (RPO)")
    args = ap.parse_args()

    api = ApiServer.start(kube_apiserver=require_tool("kube-apiserver"), etcd=require_tool("etcd"))
    moto = MotoServer.start()
    work = Path(tempfile.mkdtemp(prefix="failover-bench-"))
    runner = OperatorRunner(kube_env=api.env, aws_env=moto.env, workdir=work)
    kubectl = api.kubectl(require_tool("kubectl"))
    api.apply_crds(kubectl, REPO / "crds")
    runs: list[OutageRun] = []
    rows: list[str] = []
    lag_rows: list[str] = []
    try:
        for i in range(args.repeat):
            r = one_run(i, api, moto, runner, kubectl, args, work)
            runs.append(r.run)
            rows.append(
                f"| {i + 1} | {r.run.detected:.2f} | {r.run.switch:.2f} | "
                f"{r.run.writes_back:.2f} | {r.run.failed_during} | {r.acked} | {r.lost} |"
            )
            print(rows[-1], flush=True)
        for i in range(args.lag_runs):
            r = one_run(args.repeat + i, api, moto, runner, kubectl, args, work, lag=args.lag)
            lag_rows.append(
                f"| {i + 1} | {args.lag:g} | {r.run.detected:.2f} | {r.before} | "
                f"{r.at_switch} | {r.oldest_missing:.2f} | {r.lost} |"
            )
            print(lag_rows[-1], flush=True)
    finally:
        runner.stop_all()
        moto.stop()
        api.stop()
        shutil.rmtree(work, ignore_errors=True)

    floor = args.threshold * args.interval
    text = f"""# Regional failover: detection and switch times

`bench/failover_bench.py --repeat {args.repeat} --interval {args.interval} --threshold \
{args.threshold}` on {platform.machine()}, {platform.python_version()}, \
{time.strftime("%Y-%m-%d")}: real kube-apiserver, moto server with the forumdb extension
(global tables, region outage), forum-operator, one forum-service (users, gunicorn gthread)
whose config folder mirrors the ConfigMap every 0.1 s, 4 clients writing steadily
(1 s timeout per request, as a front end would give up). Replication lag 0. Times in
seconds from the start of the outage.

- detection: until the operator switched the ConfigMap's AWS_REGION to {DR}
  ({args.threshold} failed checks {args.interval} s apart: at least about \
{floor - args.interval} s, at most about {floor} s plus a check's duration);
- switch: from the ConfigMap's switch to the first write acknowledged in {DR};
- writes back: detection + switch (the RTO as a client sees it here).

| | min | median | max |
| --- | --- | --- | --- |
| detection | {stats([r.detected for r in runs])} |
| switch | {stats([r.switch for r in runs])} |
| writes back | {stats([r.writes_back for r in runs])} |

{HEADER}
{chr(10).join(rows)}

RPO: the same outage with a replication lag of {args.lag:g} s (the moto extension delays
every replicated write by that much), the writers running for longer than the lag before it.
Writes acknowledged in {PRIMARY} within the lag before the services read them in {DR} are not
there yet: that window is the RPO. "Oldest" is the age, when the check began, of the oldest
write found missing: the lag bounds it (asserted by tests/integration/failover); it is
below the lag here because reading hundreds of writes back takes seconds, newest first, and
the older ones land meanwhile.

| run | lag | detection | acknowledged before the switch | not readable in {DR} at the switch \
| oldest of those (s) | not readable {args.lag + 1:g} s after the primary came back |
| --- | --- | --- | --- | --- | --- | --- |
{chr(10).join(lag_rows)}

The last column should be 0: committed writes replicate eventually, so once {PRIMARY} is back its
pending writes reach {DR} (last writer wins against what was written meanwhile there); had
the region lost them, they would be the data lost. DynamoDB global tables replicate
asynchronously (typically within a second): the RPO is that replication delay, whatever the
failover does.

Notes
- The switch is short here because the ConfigMap mirror polls every 0.1 s. In a cluster the
  kubelet projects a changed ConfigMap into a mounted volume within its sync period plus the
  cache propagation delay (about a minute by default), which adds to the switch time: for a
  fast RTO, enable the chart's `database.configSync` (an init container and a sidecar watch
  the ConfigMap through the API and write the services' config folder), or lower the
  kubelet's `syncFrequency`.
- After the switch the services' config watcher re-reads the folder at most every second and
  opens a new store; requests in flight on the old store finish there (here: they fail
  after botocore's retries against the region that is down).
"""
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
