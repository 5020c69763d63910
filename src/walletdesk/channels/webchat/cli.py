"""`walletdesk webchat …`: the sites a chat widget may run on."""

from __future__ import annotations

from typing import Annotated

import typer

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
