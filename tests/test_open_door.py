"""No open door (issue 12, finding 4): without MicrosoftAppId, authentication is off, so the service
listens on loopback only and says so; with one, MicrosoftAppType must be written out, and an unsigned
POST claiming an approver is refused before it can store or redirect anything.

`python app.py` runs as a newcomer runs it; the socket it listens on is read from /proc/net/tcp.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from pathlib import Path

from storage.repositories import Store
from tests.bot_harness import ALEX, TENANT, open_bot_env
from tests.conftest import FakeClock, require
from tests.connector_standin import ConnectorStandIn
from tests.protocol_env import QUICK
from tests.test_service import run_cli, serving

APP_ID = "9b2a6c1e-0000-4000-8000-00000000c11e"


def listening_on(port: int) -> set[str]:
    """The IPv4 addresses a socket listens on at `port` (state 0A is LISTEN in /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if int(hex_port, 16) == port and state == "0A":
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_without_an_app_id_it_listens_on_loopback_only_and_says_why(tmp_path: Path) -> None:
    require(Path("/proc/net/tcp").exists(), "needs Linux's /proc/net/tcp to see the listening socket")
    with serving(tmp_path, {}) as (port, proc):
        assert listening_on(port) == {"127.0.0.1"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as answer:
            ready = json.loads(answer.read())
        assert ready["authentication"].startswith("off: MicrosoftAppId is empty")
        proc.terminate()
        output = proc.communicate(timeout=20)[0]
    [line] = [line for line in output.splitlines() if "authentication is off" in line]
    assert "MicrosoftAppId is empty" in line and f"127.0.0.1:{port} only" in line


def test_with_an_app_id_it_listens_everywhere_and_refuses_an_unsigned_post(tmp_path: Path) -> None:
    require(Path("/proc/net/tcp").exists(), "needs Linux's /proc/net/tcp to see the listening socket")
    bot = {
        "MicrosoftAppId": APP_ID,
        "MicrosoftAppPassword": "not-a-real-secret",
        "MicrosoftAppType": "SingleTenant",
        "MicrosoftAppTenantId": TENANT,
    }
    with serving(tmp_path, bot) as (port, _):
        assert listening_on(port) == {"0.0.0.0"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as answer:
            assert json.loads(answer.read())["authentication"] == "on"
        claim = {
            "type": "message",
            "text": "status",
            "serviceUrl": "http://127.0.0.1:9/attacker/",
            "channelId": "msteams",
            "from": {"id": "29:1", "aadObjectId": ALEX.aad_id},
            "conversation": {"id": "a:attacker", "conversationType": "personal"},
            "channelData": {"tenant": {"id": TENANT}},
        }
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/messages",
            data=json.dumps(claim).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            urllib.request.urlopen(request, timeout=10)
            raise AssertionError("an unsigned POST was accepted")
        except urllib.error.HTTPError as refused:
            assert refused.code == 401


def test_an_app_id_without_its_type_is_a_config_error(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "fleet", env={"MicrosoftAppId": APP_ID, "MicrosoftAppPassword": "x"})
    assert result.returncode == 2
    assert "config error: MicrosoftAppType: required when MicrosoftAppId is set" in result.stderr


def test_doctor_says_authentication_is_off(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "doctor")
    [line] = [line for line in result.stdout.splitlines() if "MicrosoftAppId is empty" in line]
    assert "authentication is off, so the service listens on 127.0.0.1 only" in line


def test_doctor_warns_of_a_multi_tenant_bot(tmp_path: Path) -> None:
    env = {"MicrosoftAppId": APP_ID, "MicrosoftAppPassword": "x", "MicrosoftAppType": "MultiTenant"}
    result = run_cli(tmp_path, "doctor", env={**env, "HTTPS_PROXY": "http://127.0.0.1:9"})  # no way out
    assert "MicrosoftAppType is MultiTenant: Azure no longer creates multi-tenant bots" in result.stdout


async def test_an_unsigned_claim_to_be_the_approver_changes_no_reference(
    sqlite_store: Store, clock: FakeClock
) -> None:
    async with open_bot_env(sqlite_store, clock, tuning=QUICK) as env:
        await env.say("status", ALEX)
        stored = await env.store.call(env.store.conversations.get, ALEX.aad_id)
    async with (
        ConnectorStandIn() as attacker,
        open_bot_env(sqlite_store, clock, app_id=APP_ID, tuning=QUICK) as env,
    ):
        claim = env.teams.message("status", ALEX)
        claim["serviceUrl"] = attacker.url
        result = await env.post(claim)
        assert result.status == 401
        assert attacker.sent() == [] and env.connector.sent() == []
        assert await env.store.call(env.store.conversations.get, ALEX.aad_id) == stored
