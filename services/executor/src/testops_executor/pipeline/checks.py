"""What a request may ask the executor to run: repository URLs, branches, suite paths and
pytest options, each checked before anything is queued."""

from __future__ import annotations

import math
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

PARAM_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")

PYTEST_OPTIONS = frozenset(
    {
        # selection
        "k",
        "m",
        "x",
        "maxfail",
        "lf",
        "last-failed",
        "ff",
        "failed-first",
        "sw",
        "stepwise",
        "deselect",
        "strict-markers",
        # output
        "v",
        "q",
        "s",
        "l",
        "r",
        "tb",
        "durations",
        "durations-min",
        "capture",
        "color",
        "showlocals",
        "no-header",
        "no-summary",
        # common plugins
        "reruns",
        "reruns-delay",
        "only-rerun",
        "n",
        "dist",
        "timeout",
        "count",
        "randomly-seed",
        "p",
    }
)
"""Options a request may pass to pytest. Options that name files or folders (`--junitxml`,
`--basetemp`, `--alluredir`, `-o`, `-c`, `--rootdir`, …) are not among them: they could write
outside the workspace. `-p` only takes `no:<plugin>`."""
Scalar = str | int | float | bool

PARAM_TEXT_MAX = 1024
"""The longest text an option's value may be."""
PARAM_LIST_MAX = 100
"""The most values one option may repeat."""
PARAM_INT_LIMIT = 2**63
"""Integers stay within 64 bits (-2**63 ≤ n < 2**63)."""


CLONABLE_SCHEMES = ("https", "http", "file")
"""The schemes an operator can allow in ``ALLOWED_REPO_SCHEMES``."""


class RepoNotAllowed(ValueError):
    """The URL's scheme or host is not among those allowed."""


def check_repo_url(url: str, *, schemes: Sequence[str], hosts: Sequence[str]) -> str:
    """The URL, when git may clone it under the settings; else :class:`RepoNotAllowed`."""
    if "::" in url or url.startswith("-") or any(c in url for c in "\x00\n\r"):
        # `ext::sh -c …` and other transport helpers run commands.
        raise RepoNotAllowed("transport helpers (`<name>::…`) are not allowed")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if not scheme:
        raise RepoNotAllowed(
            "the repository is not a URL: write a remote one as https://host/team/app.git and "
            "a local bare repository as file:///abs/path/repo.git (the file scheme must be "
            f"allowed: TESTOPS_EXECUTOR_ALLOWED_REPO_SCHEMES={_with(schemes, 'file')})"
        )
    if scheme not in schemes:
        allowed = ", ".join(schemes) or "none"
        hint = (
            f"TESTOPS_EXECUTOR_ALLOWED_REPO_SCHEMES={_with(schemes, scheme)} allows it"
            if scheme in CLONABLE_SCHEMES
            else f"the executor clones {', '.join(CLONABLE_SCHEMES)} URLs"
        )
        raise RepoNotAllowed(f"the scheme {scheme!r} is not allowed (allowed: {allowed}; {hint})")
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise RepoNotAllowed("a file URL names an absolute path: file:///path/to/repo.git")
        return url
    host = (parts.hostname or "").lower()
    if not host:
        raise RepoNotAllowed("the URL names no host")
    if parts.username is not None or parts.password is not None:
        # A token as the user name is how many hosts take one: it would be stored and logged.
        raise RepoNotAllowed(
            "credentials do not belong in the URL; the executor's settings hold them"
        )
    if hosts and host not in hosts:
        raise RepoNotAllowed(
            f"the host {host!r} is not allowed (allowed: {', '.join(hosts)}; "
            f"TESTOPS_EXECUTOR_ALLOWED_REPO_HOSTS={_with(hosts, host)} allows it)"
        )
    return url


def _with(values: Sequence[str], value: str) -> str:
    """The comma list of a setting with ``value`` added: what an operator would set."""
    return ",".join([*values, value] if value not in values else values)


def check_branch(branch: str) -> str:
    """A branch git accepts as a branch name and no option: ``git check-ref-format --branch``."""
    if not branch or branch.startswith("-"):
        raise ValueError("must be a branch name, not an option")
    answer = subprocess.run(  # a pure check of the name; no repository involved
        ["git", "check-ref-format", "--branch", branch],
        capture_output=True,
        check=False,
        timeout=10,
    )
    if answer.returncode != 0:
        raise ValueError("is not a valid branch name")
    return branch


def check_suite_name(name: str) -> str:
    """A path inside the checkout (a folder, a file, or `file::test`), never an option."""
    if not name or name.startswith("-") or "\x00" in name or "\\" in name:
        raise ValueError("must be a path inside the repository, not an option")
    path_part = name.split("::", 1)[0]
    path = PurePosixPath(path_part)
    if path.is_absolute() or ".." in path.parts:
        raise ValueError("must stay inside the repository")
    return name


def _is_param_scalar(item: object) -> bool:
    if isinstance(item, bool):
        return True
    if isinstance(item, int):
        return -PARAM_INT_LIMIT <= item < PARAM_INT_LIMIT
    if isinstance(item, float):
        return math.isfinite(item)
    if isinstance(item, str):
        return len(item) <= PARAM_TEXT_MAX and "\x00" not in item
    return False


def check_param_value(value: Any) -> Any:
    """A value an option may take: text (at most ``PARAM_TEXT_MAX`` characters, no NUL), an
    integer within 64 bits, a finite number, true/false — or a flat list of at most
    ``PARAM_LIST_MAX`` of them, which repeats the option."""
    values = value if isinstance(value, list) else [value]
    if len(values) > PARAM_LIST_MAX or not all(_is_param_scalar(item) for item in values):
        raise ValueError(
            f"takes text (at most {PARAM_TEXT_MAX} characters), a number, true/false or a list "
            f"of at most {PARAM_LIST_MAX} of them"
        )
    return value


def check_params(params: dict[str, Any]) -> dict[str, Any]:
    """Keys that can only be option names; values as :func:`check_param_value` takes them."""
    for key, value in params.items():
        if not PARAM_KEY.match(key):
            raise ValueError(f"{key!r} is not an option name (letters, digits, - and _)")
        if key not in PYTEST_OPTIONS:
            raise ValueError(f"{key!r} is not among the pytest options that may be passed")
        try:
            check_param_value(value)
        except ValueError as exc:
            raise ValueError(f"{key!r} {exc}") from None
        values = value if isinstance(value, list) else [value]
        if key == "p" and not all(isinstance(v, str) and v.startswith("no:") for v in values):
            raise ValueError("'p' may only turn plugins off (`no:<plugin>`)")
        for item in values:
            if len(key) == 1 and isinstance(item, str) and item.startswith("-"):
                # `-k -x` would hand pytest another option.
                raise ValueError(f"the value of {key!r} must not start with '-'")
    return params


def pytest_options(params: dict[str, Any]) -> list[str]:
    """``{"k": "login"}`` → ``-k login``; ``{"maxfail": 5}`` → ``--maxfail=5``; ``{"x": true}``
    → ``-x``; false leaves the option out; lists repeat it. A value is always its own
    argument or joined after ``=``, so it can never be read as another option."""
    options: list[str] = []
    for key, value in params.items():
        flag = f"-{key}" if len(key) == 1 else f"--{key}"
        for item in value if isinstance(value, list) else [value]:
            if item is True:
                options.append(flag)
            elif item is False:
                continue
            elif len(key) == 1:
                options.extend([flag, str(item)])
            else:
                options.append(f"{flag}={item}")
    return options


_PYTEST_CONFIGS = {
    "pytest.ini": None,
    ".pytest.ini": None,
    "pyproject.toml": ("[tool.pytest.ini_options]", "[tool.pytest]"),
    "tox.ini": ("[pytest]",),
    "setup.cfg": ("[tool:pytest]",),
}
"""pytest's configuration files, and the section that makes one count (None: any file)."""


def has_pytest_config(checkout: Path, suite_name: str) -> bool:
    """Whether pytest, looking upwards from the suite's folder for its configuration, finds one
    inside the checkout. When it does not, it would go on into the folders around the executor's
    workspace and take whatever configuration it finds there."""
    folder = (checkout / suite_name.split("::", 1)[0]).resolve()
    root = checkout.resolve()
    if not folder.is_dir():
        folder = folder.parent
    while True:
        for name, sections in _PYTEST_CONFIGS.items():
            path = folder / name
            if path.is_file() and (
                sections is None
                or any(section in path.read_text(errors="replace") for section in sections)
            ):
                return True
        if folder == root or root not in folder.parents:
            return False
        folder = folder.parent
