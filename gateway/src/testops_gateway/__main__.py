"""``testops-gateway [serve]`` starts the gateway; ``testops-gateway migrate`` migrates its
identity database; ``testops-gateway create-user [--admin] NAME`` makes a user who can sign in;
``testops-gateway create-token`` makes a token and prints the line that configures it;
``testops-gateway keygen FOLDER`` makes the key pairs the processes sign and check requests
with."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from testops_gateway.auth import NAME, SCOPES, new_token, parse_scopes, token_line
from testops_kit.principal import ensure_key_pair


def _create_token(name: str, scopes: str) -> int:
    try:
        scope_list = parse_scopes(scopes)
    except ValueError as exc:
        sys.stderr.write(f"testops-gateway: {exc}\n")
        return 2
    token = new_token()
    line = token_line(name, scope_list, token)
    sys.stdout.write(
        f"Token {name!r} ({', '.join(scope_list)}), shown this once; clients send it as\n"
        f"`Authorization: Bearer <token>`:\n\n    {token}\n\n"
        "Configure the gateway with this line (it holds the token's hash, not the token),\n"
        "one per line in TESTOPS_GATEWAY_TOKENS_FILE, or in TESTOPS_GATEWAY_TOKENS\n"
        "(lines separated by `;`):\n\n"
        f"    {line}\n"
    )
    return 0


def _migrate() -> int:
    from testops_gateway.database import MIGRATIONS
    from testops_gateway.settings import GatewaySettings
    from testops_kit.logging import configure_logging
    from testops_kit.migrations import upgrade

    settings = GatewaySettings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    asyncio.run(upgrade(MIGRATIONS, settings.resolved_database_url))
    return 0


def _create_user(
    username: str, *, admin: bool, password_stdin: bool, display_name: str | None
) -> int:
    from pydantic import SecretStr, ValidationError

    from testops_gateway.passwords import MAX_LENGTH, MIN_LENGTH, generate_password
    from testops_gateway.users.schemas import UserCreate

    generated = not password_stdin
    password = generate_password() if generated else sys.stdin.readline().rstrip("\r\n")
    try:
        data = UserCreate(
            username=username,
            display_name=display_name,
            password=SecretStr(password),
            instance_role="admin" if admin else "user",
            kind="human",
        )
    except ValidationError as exc:
        fields = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
        reason = (
            f"the password must be {MIN_LENGTH}-{MAX_LENGTH} characters"
            if fields == {"password"}
            else "a username is 1-64 letters, digits, '.', '_', '@', '+', '-', the first a "
            "letter or digit"
        )
        sys.stderr.write(f"testops-gateway: {reason}\n")
        return 2
    try:
        made = asyncio.run(_add_user(data))
    except Exception as exc:
        from testops_gateway.users.errors import UsernameConflict

        if isinstance(exc, UsernameConflict):
            sys.stderr.write(f"testops-gateway: {exc.detail}\n")
            return 1
        raise
    role = "an instance admin" if admin else "a user"
    sys.stdout.write(f"Made {data.username!r} ({role}, id {made}).\n")
    if generated:
        sys.stdout.write(
            f"Its password, shown this once (sign in with it, then change it):\n\n    {password}\n"
        )
    return 0


async def _add_user(data: object) -> int:
    """Migrate the gateway's database, then add the user; its id."""
    from testops_gateway.database import MIGRATIONS
    from testops_gateway.passwords import Passwords
    from testops_gateway.settings import GatewaySettings
    from testops_gateway.users.schemas import UserCreate
    from testops_gateway.users.service import add_user, hash_password
    from testops_kit.database import Database
    from testops_kit.migrations import upgrade

    assert isinstance(data, UserCreate)
    settings = GatewaySettings()
    url = settings.resolved_database_url
    await upgrade(MIGRATIONS, url)
    password_hash = await hash_password(Passwords(), data.password)
    database = Database(url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    try:
        async with database.session(write=True) as session:
            user = await add_user(session=session, data=data, password_hash=password_hash)
            return user.id
    finally:
        await database.dispose()


KEY_PAIRS = {
    "principal": "the gateway signs (principal.pem); catalog, results and executor check (.pub)",
    "executor": "the executor signs its uploads (executor.pem); results checks (.pub)",
}


def _keygen(folder: Path) -> int:
    for name, use in KEY_PAIRS.items():
        private, public = folder / f"{name}.pem", folder / f"{name}.pub"
        made = ensure_key_pair(private, public)
        sys.stdout.write(f"{'made' if made else 'kept'} {private} and {public}: {use}\n")
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="testops-gateway",
        description="TestOps gateway: one /api/v1 in front of the services "
        "(settings: TESTOPS_GATEWAY_*).",
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve the gateway (the default)")
    commands.add_parser(
        "migrate", help="migrate the identity database to the newest revision and exit"
    )
    user = commands.add_parser(
        "create-user",
        help="make a user who signs in with a password (migrating the database first)",
    )
    user.add_argument("username", help="the name to sign in with, e.g. alice")
    user.add_argument("--admin", action="store_true", help="make an instance admin")
    user.add_argument("--display-name", default=None, help="the name shown, e.g. 'Alice Liddell'")
    user.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin (default: generate one and print "
        "it once)",
    )
    create = commands.add_parser("create-token", help="make a token and print its config line")
    create.add_argument("--name", required=True, help="who the token is for, e.g. ci")
    create.add_argument(
        "--scopes",
        default="read",
        help=f"comma list of {', '.join(SCOPES)} (default: read)",
    )
    keygen = commands.add_parser(
        "keygen", help="make the Ed25519 key pairs in FOLDER (an existing pair is kept)"
    )
    keygen.add_argument("folder", type=Path, help="where to write them, e.g. .testops/keys")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        raise SystemExit(_migrate())
    if args.command == "create-user":
        raise SystemExit(
            _create_user(
                args.username,
                admin=args.admin,
                password_stdin=args.password_stdin,
                display_name=args.display_name,
            )
        )
    if args.command == "keygen":
        raise SystemExit(_keygen(args.folder))
    if args.command == "create-token":
        if not NAME.fullmatch(args.name):
            parser.error(
                "--name: 1-64 ASCII letters, digits, '.', '_', '-', the first a letter or digit"
            )
        raise SystemExit(_create_token(args.name, args.scopes))
    # Imported here: making a token needs none of the app, and starts at once without it.
    from testops_gateway.main import StartupRefused, create_app
    from testops_gateway.settings import GatewaySettings
    from testops_kit.server import serve

    settings = GatewaySettings()
    try:
        app = create_app(settings)
    except StartupRefused as exc:
        sys.stderr.write(f"testops-gateway: refusing to start: {exc}\n")
        raise SystemExit(2) from None
    serve(app, settings)


if __name__ == "__main__":
    main()
