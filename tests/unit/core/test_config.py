"""Settings from the environment and from a mounted ConfigMap folder, reloaded on change."""

import pytest
from pydantic import ValidationError

from forumdb.config import CONFIG_DIR_ENV, SETTINGS_ENV_NAMES, SettingsWatcher, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in SETTINGS_ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_defaults():
    s = load_settings()
    assert s.storage_mode == "json"
    assert str(s.data_dir) == "data"
    assert s.port == 8080
    assert s.table_names() == {
        "users": "forum-Users",
        "threads": "forum-Threads",
        "posts": "forum-Posts",
    }


def test_design_names_from_environment(monkeypatch):
    monkeypatch.setenv("STORAGE_MODE", "DynamoDB")
    monkeypatch.setenv("TABLE_PREFIX", "prod-")
    monkeypatch.setenv("POSTS_TABLE", "legacy-posts")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    monkeypatch.setenv("REPLICA_REGIONS", "us-west-2, eu-central-1")
    monkeypatch.setenv("PORT", "9000")
    s = load_settings()
    assert s.storage_mode == "dynamodb"
    assert s.table_names() == {
        "users": "prod-Users",
        "threads": "prod-Threads",
        "posts": "legacy-posts",
    }
    assert s.aws_region == "eu-west-1"
    assert s.aws_endpoint_url == "http://127.0.0.1:5000"
    assert s.replica_regions == ("us-west-2", "eu-central-1")
    assert s.port == 9000


@pytest.mark.parametrize(
    ("value", "mode"), [("true", "dynamodb"), ("false", "json"), ("1", "dynamodb")]
)
def test_use_dynamodb_is_accepted(monkeypatch, value, mode):
    monkeypatch.setenv("USE_DYNAMODB", value)
    assert load_settings().storage_mode == mode


def test_storage_mode_wins_over_use_dynamodb(monkeypatch):
    monkeypatch.setenv("USE_DYNAMODB", "true")
    monkeypatch.setenv("STORAGE_MODE", "json")
    assert load_settings().storage_mode == "json"


def test_bad_mode_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("STORAGE_MODE", "postgres")
    with pytest.raises(ValidationError, match="STORAGE_MODE"):
        load_settings()


def test_config_folder_outranks_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    (tmp_path / "AWS_REGION").write_text("us-west-2\n")
    (tmp_path / "STORAGE_MODE").write_text("dynamodb")
    monkeypatch.setenv(CONFIG_DIR_ENV, str(tmp_path))
    s = load_settings()
    assert (s.aws_region, s.storage_mode) == ("us-west-2", "dynamodb")


def test_watcher_picks_up_a_changed_file_without_restart(tmp_path):
    (tmp_path / "AWS_REGION").write_text("us-east-1")
    w = SettingsWatcher(tmp_path, interval=0)
    assert (w.current().aws_region, w.generation) == ("us-east-1", 0)
    assert w.current().aws_region == "us-east-1"
    assert w.generation == 0  # nothing changed, nothing reloaded
    (tmp_path / "AWS_REGION").write_text("us-west-2")
    assert w.current().aws_region == "us-west-2"
    assert w.generation == 1


def test_watcher_keeps_last_good_settings_on_a_broken_update(tmp_path):
    (tmp_path / "STORAGE_MODE").write_text("json")
    w = SettingsWatcher(tmp_path, interval=0)
    (tmp_path / "STORAGE_MODE").write_text("nonsense")
    assert w.current().storage_mode == "json"
    assert w.generation == 0
    (tmp_path / "STORAGE_MODE").write_text("dynamodb")
    assert w.current().storage_mode == "dynamodb"
    assert w.generation == 1


def test_watcher_follows_kubernetes_symlink_swap(tmp_path):
    # A mounted ConfigMap: KEY -> ..data/KEY, ..data -> ..<timestamp>; updates swap ..data.
    first = tmp_path / "..2026_01"
    first.mkdir()
    (first / "AWS_REGION").write_text("us-east-1")
    (tmp_path / "..data").symlink_to(first.name)
    (tmp_path / "AWS_REGION").symlink_to("..data/AWS_REGION")
    w = SettingsWatcher(tmp_path, interval=0)
    assert w.current().aws_region == "us-east-1"
    second = tmp_path / "..2026_02"
    second.mkdir()
    (second / "AWS_REGION").write_text("eu-west-1")
    (tmp_path / "..data_tmp").symlink_to(second.name)
    (tmp_path / "..data_tmp").rename(tmp_path / "..data")
    assert w.current().aws_region == "eu-west-1"


def test_env_names_cover_every_setting():
    assert {
        "STORAGE_MODE",
        "USE_DYNAMODB",
        "DATA_DIR",
        "TABLE_PREFIX",
        "USERS_TABLE",
        "THREADS_TABLE",
        "POSTS_TABLE",
        "AWS_REGION",
        "AWS_ENDPOINT_URL",
        "PORT",
        CONFIG_DIR_ENV,
    } <= set(SETTINGS_ENV_NAMES)
