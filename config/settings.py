"""Curfew's configuration: a YAML file with environment overrides, validated at start.

The shape of the YAML file is a public contract (see README, "Configuration reference").
A mistake is reported as one line per problem that names the key and what is expected.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from domain.idle import IdlePolicy
from domain.lifecycle import DeleteMode, LifecyclePolicy
from domain.model import WEEKDAYS, CurfewPolicy, MorningPolicy, WorkspacePolicy

DEMO_OWNER_ID = "00000000-0000-0000-0000-000000000020"
DEMO_REQUEST_QUOTA = 6
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _clock(value: Any) -> Any:
    """Accept "HH:MM" (YAML may also hand us minutes since midnight for unquoted 08:00)."""
    if isinstance(value, time):
        return value
    if isinstance(value, int) and 0 <= value < 24 * 60:  # YAML 1.1 sexagesimal: 08:00 -> 480
        return time(value // 60, value % 60)
    if isinstance(value, str) and _HHMM.match(value):
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))
    raise ValueError('expected a time of day "HH:MM" from 00:00 to 23:59')


def _zone(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("expected an IANA time zone name such as Europe/Berlin")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}; expected an IANA name such as Europe/Berlin")
    return value


def _days(value: Any) -> Any:
    if not isinstance(value, list) or not value:
        raise ValueError(f"expected a list of days from {', '.join(WEEKDAYS)}")
    bad = [d for d in value if str(d).lower()[:3] not in WEEKDAYS]
    if bad:
        raise ValueError(f"unknown day {bad[0]!r}; expected {', '.join(WEEKDAYS)}")
    return [str(d).lower()[:3] for d in value]


def _guid(value: Any) -> Any:
    if not isinstance(value, str) or not _GUID.match(value):
        raise ValueError(f"expected a GUID such as {DEMO_OWNER_ID}, got {value!r}")
    return value.lower()


def _weekly(value: Any) -> Any:
    """ "mon 09:00": a weekday and a time of day."""
    words = value.split() if isinstance(value, str) else []
    if len(words) != 2 or words[0].lower() not in _DAY_NAMES or not _HHMM.match(words[1]):
        raise ValueError('expected a weekday and a time of day such as "mon 09:00"')
    return f"{words[0].lower()[:3]} {words[1]}"


_DAY_NAMES = {*WEEKDAYS, "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
Clock = Annotated[time, BeforeValidator(_clock)]
Zone = Annotated[str, BeforeValidator(_zone)]
Days = Annotated[list[str], BeforeValidator(_days)]
Guid = Annotated[str, BeforeValidator(_guid)]
Weekly = Annotated[str, BeforeValidator(_weekly)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CurfewSettings(_Section):
    stop_at: Clock = time(0, 0)
    warn_minutes: int = Field(30, ge=0, le=720)
    days: Days = list(WEEKDAYS)
    skip_when_job_running: bool = True
    skip_dates: list[date] = []
    catch_up_minutes: int = Field(120, ge=0, le=24 * 60)
    stop_unwarned: bool = True
    verify_seconds: float = Field(300, ge=0, le=3600)
    verify_interval_seconds: float = Field(15, gt=0, le=600)
    run_lease_seconds: float = Field(180, ge=1, le=3600)


class OutboxSettings(_Section):
    """The worker that does what must follow a state change (storage/outbox.py, bot/flows/worker.py)."""

    lease_seconds: float = Field(120, ge=1, le=3600)
    """A claimed row another replica may take over once its claimer has been silent this long."""
    idle_seconds: float = Field(1.0, gt=0, le=60)
    """How often an idle worker looks for rows other replicas wrote."""
    backoff_seconds: float = Field(5.0, gt=0, le=600)
    """The first retry's wait after a failure; it doubles per failure, up to 10 minutes."""
    max_attempts: int = Field(8, ge=1, le=100)


class MorningStartSettings(_Section):
    at: Clock = time(8, 0)
    days: Days = list(WEEKDAYS[:5])
    skip_dates: list[date] = []


class ReportSettings(_Section):
    weekly_at: Weekly = "mon 09:00"
    """When the weekly digest goes to the workspace admins, in each workspace's zone."""

    @property
    def weekday(self) -> str:
        return self.weekly_at.split()[0]

    @property
    def at(self) -> time:
        return time.fromisoformat(self.weekly_at.split()[1])


class KeepSettings(_Section):
    max_days: int = Field(14, ge=1, le=365)
    approval_over_days: int = Field(3, ge=0, le=365)


class AzureSettings(_Section):
    resource_manager_url: str = "https://management.azure.com/"
    max_concurrency: int = Field(16, ge=1, le=256)
    writes_per_second: float = Field(10.0, gt=0)
    write_burst: int = Field(200, ge=1)
    fleet_cache_seconds: float = Field(30.0, ge=0, le=600)
    """How old chat's listing of a workspace may be (0: every chat turn lists at Azure); the sweep
    and the warnings always list fresh, and Curfew's own writes are read again at once."""

    @field_validator("resource_manager_url")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError("expected an https:// URL (Azure refuses tokens over plain http)")
        return value if value.endswith("/") else value + "/"


class TeamsSettings(_Section):
    tenant_id: Guid | None = None
    service_url: str = "https://smba.trafficmanager.net/teams/"
    approvals_channel: str | None = None


class SizeSettings(_Section):
    auto_approve: bool = False


class RequestSettings(_Section):
    sizes: dict[str, SizeSettings] = {
        "Standard_DS3_v2": SizeSettings(auto_approve=True),
        "Standard_NC6s_v3": SizeSettings(),
    }
    max_per_user: int = Field(3, ge=0)
    idle_shutdown_minutes: int = Field(60, ge=15, le=3 * 24 * 60)
    pending_days: int = Field(7, ge=1)

    @field_validator("sizes", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (v if v is not None else {}) for k, v in value.items()}
        return value


class IdleShutdownSettings(_Section):
    """Azure ML's own idle shutdown, within the admins' bounds (domain/idle.py)."""

    minutes: int = Field(60, ge=15, le=3 * 24 * 60)
    max_minutes: int = Field(240, ge=15, le=3 * 24 * 60)
    enforce: bool = True
    at: Clock = time(12, 0)
    """When the daily pass runs, in each workspace's zone."""

    @model_validator(mode="after")
    def _within_bound(self) -> IdleShutdownSettings:
        if self.minutes > self.max_minutes:
            raise ValueError("minutes must not be longer than max_minutes")
        return self

    def policy(self) -> IdlePolicy:
        return IdlePolicy(self.minutes, self.max_minutes, self.enforce)


class LifecycleSettings(_Section):
    """The end of an instance's life: reminders, the end, deletion after a grace (domain/lifecycle.py)."""

    at: Clock = time(10, 0)
    """When the daily pass runs, in each workspace's zone."""
    remind_days: list[Annotated[int, Field(ge=0, le=365)]] = [7, 1]
    grace_days: int = Field(14, ge=0, le=365)
    delete: Literal["ask", "auto", "never"] = "ask"
    stale_after_days: int = Field(30, ge=1, le=3650)
    max_lifetime_days: int = Field(180, ge=1, le=3650)
    require_end_date: bool = True

    def policy(self) -> LifecyclePolicy:
        return LifecyclePolicy(
            tuple(sorted(set(self.remind_days), reverse=True)),
            self.grace_days,
            DeleteMode(self.delete),
            self.stale_after_days,
            self.max_lifetime_days,
            self.require_end_date,
        )


class WorkspaceSettings(_Section):
    alias: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    subscription_id: Guid
    resource_group: str = Field(min_length=1)
    workspace: str = Field(min_length=1)
    timezone: Zone | None = None
    approvers: list[Guid] = []
    admins: list[Guid] = []
    idle_shutdown: IdleShutdownSettings | None = None
    """Overrides the global `idle_shutdown` for this workspace."""


class Settings(_Section):
    timezone: Zone = "UTC"
    database_url: str = "sqlite:///curfew.db"
    database_pool_size: int = Field(20, ge=2, le=500)
    """PostgreSQL connections one process may hold (pool plus overflow); infra/ sets it per replica."""
    port: int = Field(3978, ge=1, le=65535)
    curfew: CurfewSettings = CurfewSettings()
    morning_start: MorningStartSettings = MorningStartSettings()
    keep: KeepSettings = KeepSettings()
    report: ReportSettings = ReportSettings()
    azure: AzureSettings = AzureSettings()
    teams: TeamsSettings = TeamsSettings()
    requests: RequestSettings = RequestSettings()
    outbox: OutboxSettings = OutboxSettings()
    idle_shutdown: IdleShutdownSettings = IdleShutdownSettings()
    lifecycle: LifecycleSettings = LifecycleSettings()
    workspaces: list[WorkspaceSettings] = []
    demo_admins: list[Guid] = []
    demo_approvers: list[Guid] = ["00000000-0000-0000-0000-000000000021"]
    bot: BotSettings = Field(default_factory=lambda: BotSettings())

    @model_validator(mode="after")
    def _unique_aliases(self) -> Settings:
        seen: set[str] = set()
        for ws in self.workspaces:
            if ws.alias in seen:
                raise ValueError(f"workspaces: alias {ws.alias!r} is used twice; aliases must be unique")
            seen.add(ws.alias)
        return self

    @model_validator(mode="after")
    def _one_tenant(self) -> Settings:
        """Real workspaces serve one Teams tenant: without it, anyone's tenant would be served."""
        if self.workspaces and not self.teams.tenant_id:
            raise ValueError(
                "teams.tenant_id: required when workspaces are configured (your Microsoft Entra tenant "
                "id); Curfew answers only people of that tenant"
            )
        return self

    @property
    def simulated(self) -> bool:
        """With no workspace configured, Curfew runs its simulated demo fleet."""
        return not self.workspaces

    def zone_name(self, alias: str) -> str:
        for ws in self.workspaces:
            if ws.alias == alias:
                return ws.timezone or self.timezone
        return self.timezone

    @property
    def request_quota(self) -> int:
        """`requests.max_per_user`; in the demo at least 6, since the demo owner already has 4 instances."""
        quota = self.requests.max_per_user
        return max(quota, DEMO_REQUEST_QUOTA) if self.simulated else quota

    def admins_of(self, alias: str) -> list[str]:
        """Admins of a workspace; in demo mode, `demo_admins`."""
        for ws in self.workspaces:
            if ws.alias == alias:
                return list(ws.admins)
        return list(self.demo_admins) if self.simulated else []

    def idle_policy(self, alias: str) -> IdlePolicy:
        """The idle-shutdown bounds of a workspace: its own `idle_shutdown`, else the global one."""
        for ws in self.workspaces:
            if ws.alias == alias and ws.idle_shutdown is not None:
                return ws.idle_shutdown.policy()
        return self.idle_shutdown.policy()

    def approvers_of(self, alias: str) -> list[str]:
        for ws in self.workspaces:
            if ws.alias == alias:
                return list(ws.approvers)
        return list(self.demo_approvers) if self.simulated else []

    def policy(self, alias: str) -> WorkspacePolicy:
        c, m = self.curfew, self.morning_start
        return WorkspacePolicy(
            zone=ZoneInfo(self.zone_name(alias)),
            curfew=CurfewPolicy(
                stop_at=c.stop_at,
                warn_minutes=c.warn_minutes,
                days=frozenset(WEEKDAYS.index(d) for d in c.days),
                skip_when_job_running=c.skip_when_job_running,
                skip_dates=frozenset(c.skip_dates),
                catch_up_minutes=c.catch_up_minutes,
            ),
            morning=MorningPolicy(
                at=m.at,
                days=frozenset(WEEKDAYS.index(d) for d in m.days),
                skip_dates=frozenset(m.skip_dates),
            ),
        )


AppType = Literal["MultiTenant", "SingleTenant", "UserAssignedMSI"]


class BotSettings(_Section):
    """Bot Framework identity; from the environment (MicrosoftAppId, ...), never the YAML file."""

    app_id: str = ""
    app_password: str = Field("", repr=False)
    app_type: AppType | None = None
    """Required with an app id (no default: botbuilder's MultiTenant can no longer be created in Azure)."""
    app_tenant_id: str = ""
    channel_service: str = ""
    """Bot Framework channel service; https://botframework.azure.us for GCC High and DoD (else public)."""

    @model_validator(mode="after")
    def _explicit_type(self) -> BotSettings:
        if self.app_id and self.app_type is None:
            raise ValueError(
                "MicrosoftAppType: required when MicrosoftAppId is set; SingleTenant or UserAssignedMSI "
                "(MultiTenant only for an old registration)"
            )
        return self

    @property
    def authenticated(self) -> bool:
        """With an empty app id botbuilder checks no token: fine on a laptop, never on a network."""
        return bool(self.app_id)

    @property
    def kind(self) -> AppType:
        """The bot type botbuilder is configured with (its own default without an app id)."""
        return self.app_type or "MultiTenant"


Settings.model_rebuild()


class ConfigError(Exception):
    """A configuration that cannot be used; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


_ENV_KEYS = {
    "PORT": ("port",),
    "DATABASE_URL": ("database_url",),
    "DATABASE_POOL_SIZE": ("database_pool_size",),
}
_BOT_ENV = {
    "MicrosoftAppId": "app_id",
    "MicrosoftAppPassword": "app_password",
    "MicrosoftAppType": "app_type",
    "MicrosoftAppTenantId": "app_tenant_id",
    "ChannelService": "channel_service",
}


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read the YAML file (CURFEW_CONFIG, else ./curfew.yaml when present) and the environment."""
    env = os.environ if env is None else env
    explicit = path or env.get("CURFEW_CONFIG")
    file = Path(explicit) if explicit else Path("curfew.yaml")
    raw: Any = {}
    if explicit or file.exists():
        try:
            raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise ConfigError([f"config: file {file} does not exist (set CURFEW_CONFIG to a YAML file)"])
        except yaml.YAMLError as exc:
            raise ConfigError([f"config: {file} is not valid YAML: {exc}".replace("\n", " ")])
    if not isinstance(raw, dict):
        raise ConfigError([f"config: {file} must hold a mapping of keys, not {type(raw).__name__}"])
    for name, key_path in _ENV_KEYS.items():
        if env.get(name):
            raw[key_path[0]] = env[name]
    if "bot" in raw:
        raise ConfigError(["bot: not a config-file key; set MicrosoftAppId and friends in the environment"])
    raw["bot"] = {field: env[name] for name, field in _BOT_ENV.items() if env.get(name)}
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_problems(exc, raw)) from None


def _problems(exc: ValidationError, raw: Mapping[str, Any]) -> list[str]:
    lines = []
    for error in exc.errors():
        key = _key_name(error["loc"], raw)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key; check the spelling against the README's configuration reference"
        elif error["type"] == "missing":
            message = "required key is missing"
        lines.append(f"{key}: {message}" if key and key != "bot" else message)  # bot: named by env
    return lines


def _key_name(loc: tuple[int | str, ...], raw: Mapping[str, Any]) -> str:
    parts: list[str] = []
    node: Any = raw
    for item in loc:
        if isinstance(item, int):
            entry = node[item] if isinstance(node, list) and item < len(node) else None
            alias = entry.get("alias") if isinstance(entry, dict) else None
            parts[-1] += f"[{alias or item}]"
            node = entry
        else:
            if "[" in item or item.startswith("function-"):
                continue
            parts.append(item)
            node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts)
