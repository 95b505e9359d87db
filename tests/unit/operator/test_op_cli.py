"""forum-operator's command line: the contract's options and their conflicts."""

from __future__ import annotations

from click.testing import CliRunner

from forumdb_operator.main import cli


def run(*args: str, **env: str):
    return CliRunner().invoke(cli, list(args), env=env)


def test_help_lists_the_contract_options():
    out = run("--help").output
    for option in (
        "--namespace",
        "--all-namespaces",
        "--health-port",
        "--metrics-port",
        "--peering",
        "--standalone",
        "--drift-interval",
    ):
        assert option in out


def test_namespace_and_all_namespaces_exclude_each_other():
    result = run("--namespace", "a", "--all-namespaces")
    assert result.exit_code == 2
    assert "exclude each other" in result.output


def test_drift_interval_from_the_environment_is_validated():
    result = run(FORUMDB_DRIFT_INTERVAL="0")
    assert result.exit_code == 2
    assert "--drift-interval" in result.output


def test_webhook_needs_host_and_certificates():
    result = run("--webhook-port", "9443")
    assert result.exit_code == 2
    assert "--webhook-service (or --webhook-host) and --webhook-cert-dir" in result.output


def test_cluster_id_must_fit_the_aws_names_it_joins():
    """It goes into tag values and into vault, plan, topic and alarm names."""
    for bad in ("Prod", "a_b", "-a", "x" * 33):
        result = run(FORUMDB_CLUSTER_ID=bad)
        assert result.exit_code == 2, bad
        assert "--cluster-id" in result.output


def test_webhook_service_must_name_namespace_and_service():
    result = run(
        *("--webhook-port", "9443", "--webhook-service", "forum-operator-webhook"),
        *("--webhook-cert-dir", "/nonexistent"),
    )
    assert result.exit_code == 2
    assert "expected NAMESPACE/NAME" in result.output
