"""``testops-gateway [serve]`` starts the gateway; ``testops-gateway create-token`` makes a
token and prints the line that configures it; ``testops-gateway keygen FOLDER`` makes the key
pairs the processes sign and check requests with."""

from __future__ import annotations

import argparse
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
