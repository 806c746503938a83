"""The project a request acts in, as the gateway's signed principal says.

Every route of a service exists in two forms (api.md, *Projects*): scoped,
``/api/v1/projects/{project_key}/test-cases``, and unscoped, ``/api/v1/test-cases``, which acts
in the caller's default project. The gateway resolves both and signs the project into the
principal; an endpoint takes it as a dependency::

    @router.get("/test-cases")
    async def list_test_cases(project: ProjectDep, session: SessionDep) -> Page[CaseOut]: ...

and builds the URLs it answers with in the form it was asked in::

    response.headers["Location"] = api_url(request, f"/test-cases/{case.id}")
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Path, Request

from testops_kit.errors import NotFound, TestOpsError
from testops_kit.principal import Principal

API_PREFIX = "/api/v1"
SCOPED_PREFIX = f"{API_PREFIX}/projects/{{project_key}}"
"""The prefix of the scoped form of every service route."""
PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9]{1,15}$")
"""What a project key is: 2–16 capital letters and digits, starting with a letter."""
DEFAULT_PROJECT = "DEFAULT"

_SCOPED = re.compile(r"^/api/v1/projects/([^/]+)(/|$)")


class ProjectNotFound(NotFound):
    code = "project_not_found"
    title = "Project not found"


class Unauthenticated(TestOpsError):
    status_code = 401
    code = "unauthenticated"
    title = "Unauthenticated"


def current_principal(request: Request) -> Principal:
    """Who the request acts for (the kit's principal middleware put it there)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:  # an app built without the middleware: nobody is vouched for
        raise Unauthenticated("This service answers only requests that come through the gateway.")
    return principal


def current_project(request: Request) -> str:
    """The key of the project the request acts in: the principal's (for a scoped path,
    :func:`check_scoped_project` has made sure it is the path's)."""
    return current_principal(request).project


def check_scoped_project(
    request: Request,
    project_key: Annotated[
        str,
        Path(
            description="The project's key (`SHOP`). Without `/projects/{project_key}` in the "
            "path, the caller's default project: the one its token is restricted to, else "
            f"`{DEFAULT_PROJECT}`.",
            examples=[DEFAULT_PROJECT],
            pattern=PROJECT_KEY.pattern,
        ),
    ],
) -> None:
    """A scoped path's key must be the principal's (the gateway signs the project it
    authorized): any other answers 404 ``project_not_found``, as a project that does not
    exist."""
    if project_key != current_principal(request).project:
        raise ProjectNotFound(f"No project {project_key!r}.")


ProjectDep = Annotated[str, Depends(current_project)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]


def api_root(request: Request) -> str:
    """``/api/v1`` or ``/api/v1/projects/{key}``: the root of the form ``request`` used."""
    match = _SCOPED.match(request.url.path)
    return f"{API_PREFIX}/projects/{match.group(1)}" if match else API_PREFIX


def api_url(request: Request, path: str) -> str:
    """The URL of ``path`` (``/test-cases/12``) in the form ``request`` used."""
    return api_root(request) + path
