"""Configuration: the documented shape loads; every mistake is one line naming the key; exit 2."""

from __future__ import annotations

import subprocess
import sys
from datetime import time
from pathlib import Path

import pytest

from config.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[1]

FULL = """
timezone: Europe/Berlin
database_url: sqlite:///curfew.db
curfew: {stop_at: "23:30", warn_minutes: 30, days: [mon, tue, wed, thu, fri], skip_when_job_running: true,
         skip_dates: [2026-12-24]}
morning_start: {at: "08:00", days: [mon, tue, wed, thu, fri], skip_dates: []}
keep: {max_days: 14, approval_over_days: 3}
azure: {resource_manager_url: "https://management.azure.com/"}
teams: {tenant_id: "11111111-2222-3333-4444-555555555555", service_url: "https://smba.trafficmanager.net/teams/",
        approvals_channel: null}
requests: {sizes: {Standard_DS3_v2: {auto_approve: true}, Standard_NC6s_v3: {}}, max_per_user: 3,
           idle_shutdown_minutes: 60}
workspaces:
  - {alias: team-a, subscription_id: "aaaaaaaa-0000-0000-0000-000000000001", resource_group: rg-ml,
     workspace: ml-team-a, timezone: America/Los_Angeles, approvers: ["00000000-0000-0000-0000-000000000021"],
     admins: ["00000000-0000-0000-0000-000000000022"]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "curfew.yaml"
    path.write_text(text)
    return path


def test_the_documented_example_loads(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, FULL), env={})
    assert s.curfew.stop_at == time(23, 30)
    assert s.requests.sizes["Standard_DS3_v2"].auto_approve is True
    assert s.requests.sizes["Standard_NC6s_v3"].auto_approve is False
    assert not s.simulated
    assert s.zone_name("team-a") == "America/Los_Angeles"
    policy = s.policy("team-a")
    assert policy.curfew.days == frozenset({0, 1, 2, 3, 4})
    assert str(policy.zone) == "America/Los_Angeles"


def test_no_file_means_the_simulated_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(env={})
    assert s.simulated and s.port == 3978 and s.database_url == "sqlite:///curfew.db"


def test_environment_overrides(tmp_path: Path) -> None:
    env = {
        "CURFEW_CONFIG": str(write(tmp_path, "timezone: Europe/Berlin\n")),
        "PORT": "4001",
        "DATABASE_URL": "postgresql+psycopg://u@h/db",
        "MicrosoftAppId": "app",
        "MicrosoftAppPassword": "s3cret",
        "MicrosoftAppType": "SingleTenant",
        "MicrosoftAppTenantId": "tenant",
    }
    s = load_settings(env=env)
    assert (s.port, s.database_url, s.bot.app_id, s.bot.app_type) == (
        4001,
        env["DATABASE_URL"],
        "app",
        "SingleTenant",
    )
    assert "s3cret" not in repr(s)


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("timezone: Mars/Base\n", ["timezone: unknown time zone 'Mars/Base'"]),
        ('curfew: {stop_at: "25:00"}\n', ['curfew.stop_at: expected a time of day "HH:MM"']),
        ("curfew: {colour: red}\n", ["curfew.colour: unknown key"]),
        ("curfew: {days: [mon, funday]}\n", ["curfew.days: unknown day 'funday'"]),
        (
            "teams: {tenant_id: 11111111-2222-3333-4444-555555555555}\n"
            "workspaces:\n  - {alias: team-a, subscription_id: aaaaaaaa-0000-0000-0000-000000000001, workspace: w}\n",
            ["workspaces[team-a].resource_group: required key is missing"],
        ),
        (
            "workspaces:\n  - {alias: a, subscription_id: aaaaaaaa-0000-0000-0000-000000000001, "
            "resource_group: r, workspace: w}\n",
            ["teams.tenant_id: required when workspaces are configured"],
        ),
        (
            "azure: {resource_manager_url: 'http://x/'}\n",
            ["azure.resource_manager_url: expected an https:// URL"],
        ),
        ("keep: {max_days: 0}\n", ["keep.max_days: Input should be greater than or equal to 1"]),
        ("- a list\n", ["must hold a mapping of keys"]),
        ("timezone: [unclosed\n", ["is not valid YAML"]),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_each_mistake_is_one_line_naming_the_key(tmp_path: Path, yaml_text: str, expected: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, yaml_text), env={})
    assert len(caught.value.problems) == len(expected)
    for line, fragment in zip(caught.value.problems, expected, strict=True):
        assert fragment in line


def test_several_mistakes_give_several_lines(tmp_path: Path) -> None:
    text = 'timezone: Nowhere\ncurfew: {stop_at: "7pm", warn: 5}\n'
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), env={})
    keys = sorted(p.split(":")[0] for p in caught.value.problems)
    assert keys == ["curfew.stop_at", "curfew.warn", "timezone"]


def test_a_missing_explicit_file_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(env={"CURFEW_CONFIG": str(tmp_path / "nope.yaml")})


def test_the_command_line_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    path = write(tmp_path, 'timezone: Mars/Base\ncurfew: {stop_at: "25:00"}\n')
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "fleet"],
        env={"CURFEW_CONFIG": str(path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    problems = [line for line in result.stderr.splitlines() if line.startswith("config error:")]
    assert len(problems) == 2, result.stderr
    assert "timezone" in problems[0] and "curfew.stop_at" in problems[1]


def test_the_readme_configuration_reference_is_a_valid_configuration(tmp_path: Path) -> None:
    """The README's YAML block is a public contract: it must load as it is shown (placeholders filled)."""
    text = (ROOT / "README.md").read_text()
    block = text[text.index("## Configuration reference") :]
    yaml_text = block[block.index("```yaml") + len("```yaml") :]
    yaml_text = yaml_text[: yaml_text.index("```")]
    yaml_text = yaml_text.replace('"<guid>"', '"11111111-2222-3333-4444-555555555555"')
    yaml_text = yaml_text.replace('"<aad object id>"', '"00000000-0000-0000-0000-000000000021"')
    s = load_settings(write(tmp_path, yaml_text), env={})
    assert [w.alias for w in s.workspaces] == ["team-a"]
    assert s.curfew.stop_at == time(0, 0) and s.keep.approval_over_days == 3


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"MicrosoftAppId": "9b2a6c1e-0000-4000-8000-00000000c11e"}, "MicrosoftAppType: required"),
        (
            {"MicrosoftAppId": "9b2a6c1e-0000-4000-8000-00000000c11e", "MicrosoftAppType": "Public"},
            "app_type",
        ),
    ],
)
def test_an_app_id_needs_its_app_type_written_out(tmp_path: Path, env: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "timezone: UTC\n"), env=env)
    assert [line for line in caught.value.problems if problem in line], caught.value.problems


def test_without_an_app_id_the_type_is_not_needed_and_authentication_is_off(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, "timezone: UTC\n"), env={})
    assert (s.bot.app_type, s.bot.authenticated) == (None, False)
    written = load_settings(
        write(tmp_path, "timezone: UTC\n"),
        env={"MicrosoftAppId": "9b2a6c1e-0000-4000-8000-00000000c11e", "MicrosoftAppType": "MultiTenant"},
    )
    assert (written.bot.kind, written.bot.authenticated) == ("MultiTenant", True)
