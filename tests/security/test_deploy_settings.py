"""`manage.py check --deploy` with the production settings and a real environment: not one
warning, and the same check does catch a weak environment (so the first test can fail)."""

from __future__ import annotations

from .production import production_environment, production_settings, run_manage


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = run_manage(
        production_environment(tmp_path), "check", "--deploy", "--fail-level", "DEBUG"
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output, output


def test_check_deploy_reports_a_weak_production_environment(tmp_path):
    environment = production_environment(
        tmp_path,
        CARTOSTUP_SECRET_KEY="trop-courte",
        CARTOSTUP_HSTS_SECONDS="0",
        CARTOSTUP_SSL_REDIRECT="0",
    )
    result = run_manage(environment, "check", "--deploy", "--fail-level", "WARNING")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W009"):
        assert check in output, output


def test_production_refuses_to_start_without_its_secret_or_its_host_names(tmp_path):
    result = run_manage(production_environment(tmp_path, CARTOSTUP_SECRET_KEY=""), "check")
    assert result.returncode != 0
    assert "CARTOSTUP_SECRET_KEY doit être défini en production" in result.stderr
    result = run_manage(production_environment(tmp_path, CARTOSTUP_ALLOWED_HOSTS=" "), "check")
    assert result.returncode != 0
    assert "CARTOSTUP_ALLOWED_HOSTS doit être défini en production" in result.stderr


def test_production_settings_come_from_the_environment(tmp_path):
    values = production_settings(tmp_path)
    assert values["DEBUG"] is False
    assert values["ALLOWED_HOSTS"] == ["cartostup.exemple.gouv.fr"]
    assert values["CSRF_TRUSTED_ORIGINS"] == ["https://cartostup.exemple.gouv.fr"]
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    for name in ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "LANGUAGE_COOKIE_SECURE"):
        assert values[name] is True, name
    # The suite hashes cheaply (config.settings.test); production keeps Argon2 at OWASP's
    # cost for receipts (19 MiB, 2 passes) and for passwords.
    receipts = values["CARTOSTUP_RECEIPT_ARGON2"]
    assert receipts["memory_cost"] >= 19456 and receipts["time_cost"] >= 2, receipts
    assert values["PASSWORD_HASHERS"][0].endswith("Argon2PasswordHasher"), values
