"""`walletdesk webchat …`: the sites a chat widget may run on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

webchat_app = typer.Typer(help="Live chat: sites that embed the widget.", no_args_is_help=True)
site_app = typer.Typer(
    help="Sites (websites, app web views) that embed the widget.", no_args_is_help=True
)
webchat_app.add_typer(site_app, name="site")


@site_app.command("add")
def site_add(
    name: Annotated[str, typer.Option(help="What the site is, e.g. 'Wallet website'")],
    origin: Annotated[
        list[str],
        typer.Option(help="An origin the widget may run on, e.g. https://wallet.example (repeat)"),
    ],
    hours: Annotated[
        str,
        typer.Option(help="Business hours, e.g. '1-5 09:00-18:00 Asia/Shanghai'; empty = always"),
    ] = "",
) -> None:
    """Add a site; prints its key (public) and identity secret (keep it on your backend)."""
    from walletdesk import cli as main_cli
    from walletdesk.channels.webchat.sites import create_site, parse_business_hours
    from walletdesk.core.actors import SYSTEM
    from walletdesk.core.errors import DomainError
    from walletdesk.db import Database

    settings = main_cli.load_settings()
    try:
        business_hours = parse_business_hours(hours) if hours.strip() else None
    except DomainError as exc:
        raise main_cli.fail(str(exc)) from None

    @main_cli.run_async
    async def _add() -> tuple[str, str]:
        db = Database(main_cli._database_url(settings))
        try:
            async with db.transaction() as session:
                site = await create_site(
                    session, SYSTEM, name=name, origins=origin, business_hours=business_hours
                )
                return site.key, site.identity_secret
        finally:
            await db.dispose()

    key, secret = _add()
    base = settings.base_url.rstrip("/")
    typer.echo(f"site key:        {key}")
    typer.echo(f"identity secret: {secret}")
    typer.echo("Keep the identity secret on your backend only (see docs/webchat-protocol.md).")
    typer.echo("Snippet for your pages:")
    typer.echo(f'  <script src="{base}/webchat/widget.js" data-site="{key}" defer></script>')


@site_app.command("list")
def site_list() -> None:
    """Sites with their key and allowed origins (secrets are not shown)."""
    from walletdesk import cli as main_cli
    from walletdesk.channels.webchat.sites import list_sites
    from walletdesk.db import Database

    settings = main_cli.load_settings()

    @main_cli.run_async
    async def _list() -> list[tuple[str, str, list[str], bool]]:
        db = Database(main_cli._database_url(settings))
        try:
            async with db.transaction() as session:
                return [
                    (s.key, s.name, list(s.allowed_origins), s.is_active)
                    for s in await list_sites(session)
                ]
        finally:
            await db.dispose()

    rows = _list()
    if not rows:
        typer.echo("no sites yet: walletdesk webchat site add --name … --origin …")
    for key, site_name, origins, active in rows:
        state = "" if active else " (inactive)"
        typer.echo(f"{key}  {site_name}{state}  {' '.join(origins)}")


def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one transaction; a refusal is printed as `error: …` with exit code 1.

    The database gets the install's event bus, so with Redis every running node drops its
    cached copy of a changed site at once (without it they re-read it within 30 s).
    """
    from walletdesk import cli as main_cli
    from walletdesk.core.errors import DomainError
    from walletdesk.core.events import make_event_bus
    from walletdesk.db import Database

    settings = main_cli.load_settings()

    @main_cli.run_async
    async def _run() -> T:
        bus = make_event_bus(settings.redis_url)
        db = Database(main_cli._database_url(settings), bus=bus)
        try:
            async with db.transaction() as session:
                return await work(session)
        except DomainError as exc:
            raise main_cli.fail(str(exc)) from None
        finally:
            await db.dispose()
            await bus.close()

    return _run()


@site_app.command("update")
def site_update(
    key: Annotated[str, typer.Argument(help="The site key (ws_…), see: webchat site list")],
    name: Annotated[str | None, typer.Option(help="A new name")] = None,
    origin: Annotated[
        list[str] | None,
        typer.Option(help="Replaces ALL allowed origins with these (repeat for several)"),
    ] = None,
    hours: Annotated[
        str | None,
        typer.Option(help="New business hours, e.g. '1-5 09:00-18:00 Asia/Shanghai'"),
    ] = None,
    always_open: Annotated[
        bool, typer.Option("--always-open", help="Drop the business hours: always open")
    ] = False,
) -> None:
    """Change a site's name, allowed origins or business hours (what is not given stays)."""
    from walletdesk import cli as main_cli
    from walletdesk.channels.webchat.sites import KEEP, parse_business_hours, update_site
    from walletdesk.core.actors import SYSTEM
    from walletdesk.core.errors import DomainError

    if hours is not None and always_open:
        raise main_cli.fail("give --hours or --always-open, not both")
    if name is None and not origin and hours is None and not always_open:
        raise main_cli.fail("nothing to change: give --name, --origin, --hours or --always-open")
    business_hours: Any = KEEP
    try:
        if hours is not None:
            business_hours = parse_business_hours(hours)
    except DomainError as exc:
        raise main_cli.fail(str(exc)) from None
    if always_open:
        business_hours = None

    async def _update(session: AsyncSession) -> tuple[str, list[str], Any]:
        site = await update_site(
            session,
            SYSTEM,
            key,
            name=name,
            origins=origin or None,
            business_hours=business_hours,
        )
        return site.name, list(site.allowed_origins), site.business_hours

    site_name, origins, stored_hours = _in_transaction(_update)
    typer.echo(f"{key}  {site_name}  {' '.join(origins)}")
    typer.echo(f"hours: {_hours_text(stored_hours)}")


def _hours_text(hours: dict[str, Any] | None) -> str:
    if not hours:
        return "always open"
    days = hours["days"]
    return f"{days[0]}-{days[-1]} {hours['open']}-{hours['close']} {hours['timezone']}"


def _set_active(key: str, *, active: bool) -> None:
    from walletdesk.channels.webchat.sites import set_site_active
    from walletdesk.core.actors import SYSTEM

    async def _set(session: AsyncSession) -> str:
        return (await set_site_active(session, SYSTEM, key, active=active)).name

    site_name = _in_transaction(_set)
    if active:
        typer.echo(f"{key}  {site_name}: active, the widget accepts new chats")
    else:
        typer.echo(f"{key}  {site_name}: inactive, the widget refuses new chats (site_inactive)")


@site_app.command("deactivate")
def site_deactivate(
    key: Annotated[str, typer.Argument(help="The site key (ws_…)")],
) -> None:
    """Turn a site's chat off: its widget and API refuse new chats; chats under way may end."""
    _set_active(key, active=False)


@site_app.command("activate")
def site_activate(
    key: Annotated[str, typer.Argument(help="The site key (ws_…)")],
) -> None:
    """Turn a deactivated site's chat back on."""
    _set_active(key, active=True)


@site_app.command("rotate-secret")
def site_rotate_secret(
    key: Annotated[str, typer.Argument(help="The site key (ws_…)")],
) -> None:
    """A new identity secret, printed once; identities signed with the old one stop verifying."""
    from walletdesk.channels.webchat.sites import rotate_identity_secret
    from walletdesk.core.actors import SYSTEM

    async def _rotate(session: AsyncSession) -> str:
        return await rotate_identity_secret(session, SYSTEM, key)

    secret = _in_transaction(_rotate)
    typer.echo(f"identity secret: {secret}")
    typer.echo("Shown once. Put it on your backend now: pages signed with the old secret are")
    typer.echo("refused (bad_identity), so signed-in users cannot chat until it is deployed.")
