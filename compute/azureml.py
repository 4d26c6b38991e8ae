"""AzureMLFleet: the Fleet port over the azure-ai-ml SDK (sync) for real Azure ML workspaces.

Threads: SDK calls run in a ThreadPoolExecutor, never on the event loop: reads behind a semaphore of
`max_concurrency`, writes behind `WRITE_SLOTS` per subscription of their own, so a write whose
token its subscription's budget just granted goes out at once, not behind slow listings or another
subscription's writes (a write held back and then sent in a bunch is what ARM answers with 429).
`azure.ai.ml` is imported lazily, in a worker thread, when
the first MLClient is built (the import costs seconds). One MLClient per workspace, built once.

Clouds: `resource_manager_url` reaches the SDK as `cloud=` plus `cloud_metadata`. The SDK registers a
cloud name once per process and silently keeps the first URL for a name, so the name is derived
from the URL (public clouds keep their own names).

No poller threads: the public `ml_client.compute.begin_stop/begin_start/begin_delete/
begin_create_or_update` hard-code `polling=True` and start one background thread per call that
polls every 30 s until the operation ends. Curfew returns as soon as Azure accepted (202/201), so it
calls the same operations one level down, `ml_client.compute._operation.begin_*(..., polling=False)`,
which sends the same request and returns a finished `NoPolling` poller; stop and start, ten thousand
a night, send the SDK's own request for them on its pipeline and check for the 202, without the
poller object. Those private names are used in `compute.azureml_sdk.SdkCalls` only; tests against
the ARM stand-in catch an SDK change.

Throttling (429): writes are paced per subscription by an AsyncTokenBucket (`writes_per_second`,
`write_burst`). Writes go out with `retry_total=0`, so the SDK does not retry them: a 429 comes
straight back, the subscription's bucket is paused for `Retry-After` (every writer waits, then
resumes at the refill rate) and the write is retried, at most `write_attempts` times in all. Left
to the SDK, each thread would sleep on its own while the others kept firing into an empty ARM
bucket. 5xx and connection failures on stop/start/delete are retried the same way with a short
backoff (a repeated stop is harmless: Azure answers 409 and we report ALREADY); create is retried
only on 429, as a repeated PUT could hit the instance it just created. Reads keep the SDK's own
retries (429, 5xx, connection errors; Retry-After honoured).

Errors: every SDK exception is translated into a `compute.port.FleetError` whose message is written
for chat. Tokens and secrets are never logged; azure-core's HTTP logging is set to WARNING.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    ServiceRequestError,
    ServiceResponseError,
)

from compute.azureml_errors import azure_message, retry_after, translate, translate_sdk
from compute.azureml_sdk import SdkCalls
from compute.budget import AsyncTokenBucket
from compute.fleet_cache import STALE_GETS, FleetCache, Listing
from compute.port import (
    RUNNING_OR_STARTING,
    STOPPED_OR_STOPPING,
    ActionResult,
    Busy,
    CreateSpec,
    FleetError,
    InvalidRequest,
    NotFound,
    Workspace,
)
from compute.prices import MemoryPriceCache, PriceCache
from compute.rbac import Permission
from domain.model import Instance, InstanceState, Job
from domain.money import PriceList
from ops.threads import started

if TYPE_CHECKING:
    from azure.ai.ml import MLClient
    from azure.core.credentials import TokenCredential

log = logging.getLogger(__name__)
T = TypeVar("T")
CHAT_READS = 4
"""Chat's own reads in flight: a turn never queues behind the sweep's listings."""
WRITE_SLOTS = 16
"""Writes in flight per subscription. ARM refills 10 a second and its bucket starts the night full:
until writes go out faster than the refill, the refill is wasted. A write takes 0.4-1 s while the
listings run beside it, so more than 10 must be in flight just to keep up, and 16 (about 16-40 a
second) spend the bucket of 200 within seconds; with 4 in flight the bucket sat full for seconds
(stop windows 87-93 s for a floor of 80; with 16, 82-85 s: docs/benchmarks.md, fourth pass)."""

_PUBLIC_CLOUDS = {
    "https://management.azure.com/": "AzureCloud",
    "https://management.chinacloudapi.cn/": "AzureChinaCloud",
    "https://management.usgovcloudapi.net/": "AzureUSGovernment",
}
_CLOUD_DEFAULTS = {
    "azure_portal": "https://portal.azure.com/",
    "active_directory": "https://login.microsoftonline.com/",
    "aml_resource_id": "https://ml.azure.com/",
    "storage_endpoint": "core.windows.net",
    "registry_discovery_endpoint": "https://eastus.api.azureml.ms/",
}
_QUIET_LOGGERS = ("azure.core.pipeline.policies.http_logging_policy", "azure.identity", "azure.ai.ml")


def cloud_kwargs(resource_manager_url: str) -> dict[str, Any]:
    """MLClient kwargs for an ARM endpoint: a public cloud's name, or a name derived from the URL."""
    url = resource_manager_url.rstrip("/") + "/"
    if url in _PUBLIC_CLOUDS:
        return {"cloud": _PUBLIC_CLOUDS[url]}
    parsed = urlparse(url)
    name = "Curfew-" + re.sub(r"[^A-Za-z0-9]+", "-", parsed.netloc + parsed.path).strip("-")
    return {"cloud": name, "cloud_metadata": {**_CLOUD_DEFAULTS, "resource_manager": url}}


class AzureMLFleet:
    """Compute instances of the configured Azure ML workspaces, through azure-ai-ml."""

    def __init__(
        self,
        workspaces: Sequence[Workspace],
        *,
        resource_manager_url: str,
        credential: TokenCredential | None = None,
        max_concurrency: int = 16,
        writes_per_second: float = 10.0,
        write_burst: int = 200,
        client_kwargs: Mapping[str, Any] | None = None,
        write_attempts: int = 5,
        retry_backoff_s: float = 1.0,
        price_cache: PriceCache | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        fleet_cache_seconds: float = 30.0,
    ) -> None:
        self._workspaces = {ws.alias: ws for ws in workspaces}
        self._cache = FleetCache(fleet_cache_seconds)
        self._listing = {ws.alias: asyncio.Lock() for ws in workspaces}
        self._jobs_listing = {ws.alias: asyncio.Lock() for ws in workspaces}
        self._price_cache: PriceCache = price_cache or MemoryPriceCache()
        self._pricing = asyncio.Lock()
        self._clock = clock
        self._url = resource_manager_url
        self._credential = credential
        self._owns_credential = credential is None
        self._client_kwargs = dict(client_kwargs or {})
        self._write_attempts = max(1, write_attempts)
        self._backoff = retry_backoff_s
        subscriptions = {w.subscription_id for w in workspaces}
        self._prepaid = dict.fromkeys(subscriptions, 0)
        self._sending = dict.fromkeys(subscriptions, 0)
        self._budgets = {
            sub: AsyncTokenBucket(writes_per_second, write_burst, outstanding=partial(self._outstanding, sub))
            for sub in subscriptions
        }
        self._clients: dict[str, MLClient] = {}
        self._locations: dict[str, str] = {}
        self._transport: Any = None
        self._session: Any = None
        self._building = asyncio.Lock()
        self._slots = asyncio.Semaphore(max_concurrency)
        self._write_slots = {sub: asyncio.Semaphore(WRITE_SLOTS) for sub in self._budgets}
        self._chat_slots = asyncio.Semaphore(CHAT_READS)
        self._refreshing: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._threads = max_concurrency + CHAT_READS + WRITE_SLOTS * len(self._budgets)
        self._executor = started(self._threads, "azureml")  # never started from the loop (ops/threads.py)
        for name in _QUIET_LOGGERS:  # unless someone set a level on purpose
            logger = logging.getLogger(name)
            if logger.level == logging.NOTSET:
                logger.setLevel(logging.WARNING)

    @property
    def workspaces(self) -> Sequence[Workspace]:
        return list(self._workspaces.values())

    async def list_instances(self, workspace: str | None = None) -> list[Instance]:
        aliases = [workspace] if workspace is not None else list(self._workspaces)
        found = await asyncio.gather(*(self._list_one(alias) for alias in aliases))
        return [instance for batch in found for instance in batch]

    async def list_pages(self, workspace: str) -> AsyncIterator[list[Instance]]:
        """The sweep's listing, page by page as ARM answers (each page one read in a worker thread);
        once whole, it is chat's listing too, as `list_instances`' is."""
        ws = self._workspace(workspace)
        started = self._cache.sweep_lists(ws.alias)
        found, page = await self._read(ws, None, SdkCalls.list_page, ws, None)
        everything = list(found)
        yield found
        while page is not None:
            found, page = await self._read(ws, None, SdkCalls.list_page, ws, page)
            everything += found
            yield found
        self._cache.store(ws.alias, everything, started, by_sweep=True)

    async def recent_instances(
        self, workspace: str | None = None, *, owner: str | None = None, name: str | None = None
    ) -> list[Instance]:
        if workspace is not None and name is not None and self._cache.refreshable(workspace) is None:
            return await self._one_named(workspace, name)  # one get beats listing a workspace
        # a listing just expired answers a named read too (a card click), as it answers `status`,
        # while the workspace is listed again in the background: the click does not queue a get
        aliases = [workspace] if workspace is not None else list(self._workspaces)
        found = await asyncio.gather(*(self._recent(alias, owner, name) for alias in aliases))
        return [instance for batch in found for instance in batch]

    async def _one_named(self, workspace: str, name: str) -> list[Instance]:
        try:
            return [await self._get(workspace, name, self._chat_slots)]
        except NotFound:
            return []

    async def get_instance(self, workspace: str, name: str) -> Instance:
        return await self._get(workspace, name, None)

    async def _get(self, workspace: str, name: str, slots: asyncio.Semaphore | None) -> Instance:
        ws = self._workspace(workspace)
        try:
            instance = await self._read(ws, name, SdkCalls.get_instance, ws, name, slots=slots)
        except NotFound:
            self._cache.put(ws.alias, name, None)
            raise
        self._cache.put(ws.alias, name, instance)
        if instance is None:
            raise NotFound(f"No compute instance {name} in workspace {ws.alias}.")
        return instance

    def _outstanding(self, subscription: str) -> int:
        """Writes whose token was taken and whose answer has not come: reserved or on their way."""
        return self._prepaid[subscription] + self._sending[subscription]

    async def reserve_write(self, workspace: str) -> None:
        ws = self._workspace(workspace)
        await self._client(ws)  # build first, as _write does
        await self._budgets[ws.subscription_id].acquire()
        self._prepaid[ws.subscription_id] += 1

    async def stop(self, workspace: str, name: str) -> ActionResult:
        return await self._act(workspace, name, "stop", STOPPED_OR_STOPPING, InstanceState.STOPPING)

    async def start(self, workspace: str, name: str) -> ActionResult:
        return await self._act(workspace, name, "start", RUNNING_OR_STARTING, InstanceState.STARTING)

    async def create(self, workspace: str, spec: CreateSpec) -> None:
        ws = self._workspace(workspace)
        if ws.alias not in self._locations:
            self._locations[ws.alias] = await self._read(ws, None, SdkCalls.workspace_location)
        location = self._locations[ws.alias]
        try:
            await self._write(ws, spec.name, SdkCalls.create, ws, spec, location, transient_retry=False)
        except Busy as busy:
            reason = azure_message(busy.__cause__ or busy)
            raise InvalidRequest(
                f"Azure refused to create {spec.name} in workspace {ws.alias}: {reason}"
            ) from busy
        log.info(
            "create %s@%s accepted (size %s, owner %s)", spec.name, ws.alias, spec.size, spec.owner_object_id
        )

    async def set_idle_shutdown(self, workspace: str, name: str, minutes: int | None) -> None:
        ws = self._workspace(workspace)
        await self._write(ws, name, SdkCalls.set_idle_shutdown, ws, name, minutes)
        log.info("idle shutdown of %s@%s set to %s minutes", name, ws.alias, minutes)

    async def delete(self, workspace: str, name: str) -> None:
        ws = self._workspace(workspace)
        await self._write(ws, name, SdkCalls.delete, ws, name, accepted=InstanceState.DELETING)
        log.info("delete %s@%s accepted", name, ws.alias)

    async def list_active_jobs(self, workspace: str, *, slots: asyncio.Semaphore | None = None) -> list[Job]:
        ws = self._workspace(workspace)
        started = self._cache.now()
        jobs = await self._read(ws, None, SdkCalls.active_jobs, ws.alias, slots=slots)
        self._cache.store_jobs(ws.alias, jobs, started)
        return jobs

    async def recent_jobs(self, workspace: str) -> list[Job]:
        ws = self._workspace(workspace)
        jobs = self._cache.fresh_jobs(ws.alias)
        if jobs is not None:
            return jobs
        jobs = self._cache.refreshable_jobs(ws.alias)
        if jobs is not None:  # answer from the list just expired; the next turns get the new one
            self._in_background("jobs", self._jobs_listing[ws.alias], self._refresh_jobs, ws.alias)
            return jobs
        async with self._jobs_listing[ws.alias]:  # not the instances' lock: never behind a listing
            jobs = self._cache.fresh_jobs(ws.alias)
            if jobs is None:
                jobs = await self.list_active_jobs(ws.alias, slots=self._chat_slots)
        return jobs

    async def _refresh_jobs(self, alias: str) -> None:
        if self._cache.fresh_jobs(alias) is None:
            await self.list_active_jobs(alias)

    async def hourly_prices(self, workspace: str) -> PriceList:
        """The region's price list: from the cache when younger than a day, else from Azure.

        When Azure cannot be asked, an older cached list is better than none (they are estimates)."""
        ws = self._workspace(workspace)
        async with self._pricing:  # one fetch per region, however many cards ask at once
            region = await self._region(ws)
            cached = await asyncio.to_thread(self._price_cache.load_prices, region)
            now = self._clock()
            if cached is not None and cached.fresh(now):
                return cached
            try:
                fetched = await self._read(ws, None, SdkCalls.prices, region, now)
            except FleetError as error:
                if cached is None:
                    raise
                log.warning(
                    "prices for %s are %s old; refresh failed: %s", region, now - cached.fetched_at, error
                )
                return cached
            await asyncio.to_thread(self._price_cache.save_prices, fetched)
            log.info("fetched %d VM prices for %s", len(fetched.hourly), region)
            return fetched

    async def fetch_prices(self, workspace: str) -> tuple[str, int]:
        """(region, sizes with a price) asked of Azure now, past every cache: `doctor` proves the
        workspace read and the prices role with it."""
        ws = self._workspace(workspace)
        region = await self._read(ws, None, SdkCalls.workspace_location)
        prices = await self._read(ws, None, SdkCalls.prices, region, self._clock())
        return region, sum(1 for price in prices.hourly.values() if price is not None)

    async def permissions(self, workspace: str) -> list[Permission]:
        """What Curfew's identity may do on the workspace, as ARM lists it (read-only)."""
        ws = self._workspace(workspace)
        return await self._read(ws, None, SdkCalls.permissions, ws, self._url)

    async def _region(self, ws: Workspace) -> str:
        """The workspace's Azure region: remembered, else asked once (GET workspace) and stored."""
        if ws.alias not in self._locations:
            key = f"{ws.subscription_id}/{ws.resource_group}/{ws.workspace}".lower()
            region = await asyncio.to_thread(self._price_cache.region_of, key)
            if region is None:
                region = await self._read(ws, None, SdkCalls.workspace_location)
                await asyncio.to_thread(self._price_cache.remember_region, key, region, self._clock())
            self._locations[ws.alias] = region
        return self._locations[ws.alias]

    async def close(self) -> None:
        for task in self._refreshing.values():
            task.cancel()
        clients, self._clients = list(self._clients.values()), {}
        self._executor.shutdown(wait=False, cancel_futures=True)
        for client in clients:
            _close_service_clients(client)
        if self._session is not None:
            self._session.close()
        if self._owns_credential and self._credential is not None:
            close = getattr(self._credential, "close", None)
            if close is not None:
                close()

    # Internals -------------------------------------------------------------------------------

    def _workspace(self, alias: str) -> Workspace:
        ws = self._workspaces.get(alias)
        if ws is None:
            known = ", ".join(sorted(self._workspaces)) or "none"
            raise NotFound(f"No workspace {alias} is configured (known: {known}).")
        return ws

    async def _list_one(self, alias: str, slots: asyncio.Semaphore | None = None) -> list[Instance]:
        ws = self._workspace(alias)
        started = self._cache.now()
        instances = await self._read(ws, None, SdkCalls.list_instances, ws, slots=slots)
        self._cache.store(ws.alias, instances, started)
        return instances

    async def _recent(self, alias: str, owner: str | None, name: str | None) -> list[Instance]:
        """One workspace's instances for chat: the cached listing, its stale entries read again."""
        ws = self._workspace(alias)
        listing = self._cache.fresh(ws.alias) or self._cache.refreshable(ws.alias)
        if listing is None:
            async with self._listing[ws.alias]:  # a burst of turns shares one list
                listing = self._cache.fresh(ws.alias)
                if listing is None:
                    return _narrowed(await self._list_one(ws.alias, self._chat_slots), owner, name)
        elif self._cache.fresh(ws.alias) is None and not self._cache.held(ws.alias):
            # answer from the one just expired; the next turns get the new one
            self._in_background("listing", self._listing[ws.alias], self._refresh_listing, ws.alias)
        stale = listing.stale_among(owner, name)
        if len(stale) > STALE_GETS:
            return _narrowed(await self._list_one(ws.alias, self._chat_slots), owner, name)
        for stale_name in stale:
            with contextlib.suppress(NotFound):  # deleted meanwhile: _get took it out
                await self._get(ws.alias, stale_name, self._chat_slots)
        return listing.select(owner, name)

    async def _refresh_listing(self, alias: str) -> None:
        if self._cache.fresh(alias) is None:  # the shared slots: no turn waits on it
            await self._list_one(alias)

    def _in_background(
        self, what: str, lock: asyncio.Lock, refresh: Callable[[str], Awaitable[None]], alias: str
    ) -> None:
        """Read `what` of chat's view of the workspace again in the background, once at a time."""
        running = self._refreshing.get((what, alias))
        if running is not None and not running.done():
            return

        async def locked() -> None:
            try:
                async with lock:
                    await refresh(alias)
            except FleetError as error:  # the next turn that needs it lists (and says why it cannot)
                log.warning("refreshing chat's %s of %s failed: %s", what, alias, error)

        self._refreshing[what, alias] = asyncio.create_task(locked())

    async def _act(
        self, workspace: str, name: str, action: str, already: tuple[str, ...], accepted: InstanceState
    ) -> ActionResult:
        ws = self._workspace(workspace)
        try:
            await self._write(ws, name, SdkCalls.act, ws, name, action, accepted=accepted)
        except Busy:
            state = (await self.get_instance(workspace, name)).state
            if state.value in already:
                log.info("%s %s@%s: already %s", action, name, ws.alias, state.value)
                return ActionResult.ALREADY
            raise
        log.info("%s %s@%s accepted", action, name, ws.alias)
        return ActionResult.ACCEPTED

    async def _read(
        self,
        ws: Workspace,
        name: str | None,
        call: Callable[..., T],
        *args: Any,
        slots: asyncio.Semaphore | None = None,
    ) -> T:
        try:
            return await self._run(ws, call, *args, slots=slots)
        except AzureError as exc:
            raise translate(exc, ws, name) from exc
        except Exception as exc:
            raise translate_sdk(exc, ws) from exc

    async def _write(
        self,
        ws: Workspace,
        name: str,
        call: Callable[..., None],
        *args: Any,
        transient_retry: bool = True,
        accepted: InstanceState | None = None,
    ) -> None:
        """`accepted`: the state Azure puts the instance in on accepting the write, for chat's view;
        None (or a write that failed, or whose outcome is unknown): chat's next read asks Azure."""
        try:
            await self._paced_write(ws, name, call, *args, transient_retry=transient_retry)
        except BaseException:
            self._cache.touched(ws.alias, name)
            raise
        if accepted is None:
            self._cache.touched(ws.alias, name)
        else:
            self._cache.accepted(ws.alias, name, accepted)

    async def _paced_write(
        self, ws: Workspace, name: str, call: Callable[..., None], *args: Any, transient_retry: bool
    ) -> None:
        sub = ws.subscription_id
        budget = self._budgets[sub]
        await self._client(ws)  # build first: tokens granted during a slow build would go out as one burst
        for attempt in range(1, self._write_attempts + 1):
            if attempt == 1 and self._prepaid[sub] > 0 and budget.paused_until is None:
                self._prepaid[sub] -= 1  # a token reserve_write already took
            else:
                await budget.acquire()
            self._sending[sub] += 1  # taken, not yet seen answered: ARM may not have counted it
            try:
                await self._run(ws, call, *args, slots=self._write_slots[sub])
                return
            except AzureError as exc:
                retry = self._may_retry(exc, attempt, transient_retry)
                if retry is None:
                    raise translate(exc, ws, name) from exc
                if getattr(exc, "status_code", None) == 429:
                    log.warning("ARM throttled writes of %s; pausing %.1f s", ws.subscription_id, retry)
                    budget.pause_for(retry)
                    self._prepaid[sub] = 0  # tokens taken before the 429 are void: wait like everyone
                else:
                    await asyncio.sleep(retry)
            except Exception as exc:
                raise translate_sdk(exc, ws) from exc
            finally:
                self._sending[sub] -= 1

    def _may_retry(self, exc: AzureError, attempt: int, transient_retry: bool) -> float | None:
        """Seconds to wait before the next attempt, or None to give up."""
        if attempt >= self._write_attempts:
            return None
        status = getattr(exc, "status_code", None)
        if status == 429:
            return retry_after(exc, default=self._backoff) or self._backoff
        transient = (status or 0) >= 500 or isinstance(exc, ServiceRequestError | ServiceResponseError)
        if transient and transient_retry and not isinstance(exc, ClientAuthenticationError):
            return self._backoff * 2.0 ** (attempt - 1)
        return None

    async def _run(
        self, ws: Workspace, call: Callable[..., T], *args: Any, slots: asyncio.Semaphore | None = None
    ) -> T:
        client = await self._client(ws)
        async with slots or self._slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, call, client, *args)

    async def _client(self, ws: Workspace) -> MLClient:
        client = self._clients.get(ws.alias)
        if client is None:
            async with self._building:
                client = self._clients.get(ws.alias)
                if client is None:
                    loop = asyncio.get_running_loop()
                    client = await loop.run_in_executor(self._executor, self._build_client, ws)
                    self._clients[ws.alias] = client
        return client

    def _shared_transport(self) -> Any:
        """One HTTP session for every client, its pool as large as our threads (requests' is 10)."""
        if self._transport is None:
            import requests
            from azure.core.pipeline.transport import RequestsTransport
            from urllib3.util.retry import Retry

            session = requests.Session()
            no_retries = Retry(total=False, redirect=False, raise_on_status=False)
            adapter = requests.adapters.HTTPAdapter(pool_maxsize=self._threads, max_retries=no_retries)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            connection = {k: v for k, v in self._client_kwargs.items() if k.startswith("connection_")}
            environment_read_once(session, connection, self._url)
            self._session = session
            self._transport = RequestsTransport(session=session, session_owner=False, **connection)
        return self._transport

    def _build_client(self, ws: Workspace) -> MLClient:
        from azure.ai.ml import MLClient

        if self._credential is None:
            from azure.identity import DefaultAzureCredential

            self._credential = DefaultAzureCredential()
        kwargs = {**cloud_kwargs(self._url), "enable_telemetry": False, **self._client_kwargs}
        kwargs.setdefault("transport", self._shared_transport())
        log.info("building MLClient for workspace %s (%s)", ws.alias, ws.workspace)
        return MLClient(self._credential, ws.subscription_id, ws.resource_group, ws.workspace, **kwargs)


def environment_read_once(session: Any, connection: dict[str, Any], resource_manager_url: str) -> None:
    """What `requests` reads from the environment on every call, read once for the ARM endpoint.

    With `trust_env` on, each request scans the whole environment for proxies (twice: the proxies
    and their bypass list), looks for a netrc file and for REQUESTS_CA_BUNDLE: a third of the CPU
    of each stop call in the sweep's profile. Curfew's session only ever calls one ARM endpoint
    (the credential has a transport of its own), so the proxies that endpoint would get, and the CA
    bundle unless `connection_verify` was given, are taken now and the session stops asking.
    """
    from requests.utils import get_environ_proxies

    session.proxies.update(get_environ_proxies(resource_manager_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle and connection.get("connection_verify", True) is True:
        connection["connection_verify"] = bundle
    session.trust_env = False


def _narrowed(instances: list[Instance], owner: str | None, name: str | None) -> list[Instance]:
    return Listing.of(0.0, instances).select(owner, name)


def _close_service_clients(client: Any) -> None:
    """MLClient has no close(); close the ARM service clients it holds (their HTTP sessions)."""
    for value in list(vars(client).values()):
        close = getattr(value, "close", None)
        if callable(close) and type(value).__name__.endswith("MgmtClient"):
            try:
                close()
            except Exception:  # closing is best effort
                log.debug("closing %s failed", type(value).__name__, exc_info=True)
