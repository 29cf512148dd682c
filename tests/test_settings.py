"""Settings: references resolve, production refuses unsafe config, secrets never print."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from agent.config_docs import env_example
from agent.settings import Settings, SettingsError, load_settings, unknown_variables


def test_password_in_url_is_moved_out_and_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:hunter2-secret@db:5432/prod")
    settings = load_settings()
    assert settings.database.url == "postgresql://app@db:5432/prod"
    assert settings.database.password is not None
    assert settings.database.password.get_secret_value() == "hunter2-secret"
    assert "hunter2-secret" not in repr(settings)
    assert "hunter2-secret" not in str(settings.model_dump())


def test_env_and_file_references_resolve(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret_file = tmp_path / "key"
    secret_file.write_text("from-file\n")
    monkeypatch.setenv("MY_LLM_KEY", "from-env")
    settings = load_settings(
        llm={"api_key": "env://MY_LLM_KEY"},
        redis={"url": "redis://127.0.0.1:6379/0", "password": f"file://{secret_file}"},
    )
    assert settings.llm.api_key is not None
    assert settings.llm.api_key.get_secret_value() == "from-env"
    assert settings.redis.password is not None
    assert settings.redis.password.get_secret_value() == "from-file"


def test_missing_reference_names_the_setting() -> None:
    with pytest.raises(SettingsError, match=r"llm\.api_key: environment variable 'NOPE_NOT_SET'"):
        load_settings(llm={"api_key": "env://NOPE_NOT_SET"})


def test_production_refuses_plaintext_secret_without_echoing_it() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(
            environment="production",
            database={"url": "postgresql://app:pl41ntext@db/prod"},
        )
    assert "database.password" in str(raised.value)
    assert "pl41ntext" not in str(raised.value)


def test_production_refuses_sqlite() -> None:
    with pytest.raises(SettingsError, match=r"database\.url: SQLite is not allowed"):
        load_settings(environment="production")


def test_embedded_defaults_live_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.database.url == f"sqlite:///{tmp_path / 'support.db'}"
    assert settings.chroma.persist_dir == tmp_path / "chroma"


def test_env_example_is_in_sync_with_the_model() -> None:
    committed = (Path(__file__).resolve().parents[1] / ".env.example").read_text()
    assert committed == env_example(), "regenerate: support-agent env-example > .env.example"


def test_a_misspelt_or_renamed_variable_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pydantic-settings would ignore them and leave the defaults in force."""
    monkeypatch.setenv("SUPPORT_MEMORY__SCOPE_SNAPSHOT_MEMORIES", "5000")  # renamed setting
    monkeypatch.setenv("SUPPORT_DATABSE__URL", "postgresql://db/prod")  # typo
    monkeypatch.setenv("SUPPORT_TENANT_ID__NAME", "acme")  # below a plain value
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert (
        "SUPPORT_DATABSE__URL, SUPPORT_MEMORY__SCOPE_SNAPSHOT_MEMORIES, SUPPORT_TENANT_ID__NAME: "
        "no such setting"
    ) in str(raised.value)
    assert "postgresql://db/prod" not in str(raised.value)


def test_every_documented_variable_and_keys_inside_a_mapping_are_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = [
        line.split("=", 1)[0].lstrip("# ")
        for line in env_example().splitlines()
        if line.startswith("# SUPPORT_") and "=" in line
    ]
    assert len(names) > 50
    assert unknown_variables(Settings, names) == []
    monkeypatch.setenv("SUPPORT_RESILIENCE__DEPENDENCIES__CRM__TIMEOUT_S", "2")
    monkeypatch.setenv("SUPPORT_OBSERVABILITY", '{"log_level": "WARNING"}')  # a section whole
    monkeypatch.setenv("support_memory__semantic_threshold", "0.9")  # names are case-blind
    settings = load_settings()
    assert settings.memory.semantic_threshold == 0.9
    assert settings.observability.log_level == "WARNING"


def test_a_misspelt_variable_in_the_env_file_is_refused_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("SUPPORT_TENANT_ID=acme\nSUPPORT_TENNANT_ID=acme\nOTHER=1\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError, match=r"SUPPORT_TENNANT_ID \(in \.env\): no such setting"):
        load_settings()


def test_production_refuses_to_start_without_an_encryption_key() -> None:
    with pytest.raises(SettingsError, match=r"encryption\.keys: required with environment="):
        load_settings(environment="production", database={"url": "postgresql://app@db/prod"})


def test_encryption_keys_come_from_a_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}"
    monkeypatch.setenv("TEST_KEK", keys)
    settings = load_settings(encryption={"keys": "env://TEST_KEK"})
    assert settings.encryption.keys is not None
    assert settings.encryption.keys.get_secret_value() == keys
    assert keys[:20] not in repr(settings)


def test_a_malformed_encryption_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(SettingsError, match=r"encryption\.keys: each key must be") as raised:
        load_settings(encryption={"keys": "n0t-a-fernet-k3y"})
    assert "n0t-a-fernet-k3y" not in str(raised.value)
