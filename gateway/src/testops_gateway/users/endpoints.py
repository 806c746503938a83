"""Routes of /me and /users (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from testops_gateway.callers import CallerDep, require_admin
from testops_gateway.database import DatabaseDep
from testops_gateway.passwords import PasswordsDep
from testops_gateway.users import service
from testops_gateway.users.schemas import Kind, MeOut, UserCreate, UserOut, UserUpdate
from testops_kit.database import SessionDep
from testops_kit.errors import problem_responses
from testops_kit.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from testops_kit.schemas import NO_NUL_PATTERN, IdPath

router = APIRouter(tags=["users"])


@router.get("/me", summary="Who the caller is, and its projects")
async def get_me(caller: CallerDep, session: SessionDep) -> MeOut:
    return await service.get_me(session=session, caller=caller)


@router.get("/users", summary="List users", responses=problem_responses(403, 422))
async def list_users(
    caller: CallerDep,
    session: SessionDep,
    q: Annotated[
        str | None,
        Query(max_length=64, pattern=NO_NUL_PATTERN, description="Substring of the username."),
    ] = None,
    kind: Annotated[Kind | None, Query(description="`human` or `service`.")] = None,
    active: Annotated[
        bool | None, Query(description="Only active (`true`) or deactivated (`false`) users.")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[UserOut]:
    items, next_cursor = await service.list_users(
        session=session, caller=caller, q=q, kind=kind, active=active, cursor=cursor, limit=limit
    )
    return Page(items=items, next_cursor=next_cursor)


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    summary="Create a user",
    responses=problem_responses(403, 409, 422),
)
async def create_user(
    data: UserCreate,
    caller: CallerDep,
    database: DatabaseDep,
    passwords: PasswordsDep,
    response: Response,
) -> UserOut:
    require_admin(caller)  # before the hash: only an admin may make the gateway spend on one
    password_hash = await service.hash_password(passwords, data.password)
    async with database.session(write=True) as session:
        user = await service.create_user(
            session=session, caller=caller, data=data, password_hash=password_hash
        )
    response.headers["Location"] = f"/api/v1/users/{user.id}"
    return user


@router.get("/users/{user_id}", summary="Get a user", responses=problem_responses(403, 404))
async def get_user(user_id: IdPath, caller: CallerDep, session: SessionDep) -> UserOut:
    return await service.get_user(session=session, caller=caller, user_id=user_id)


@router.patch(
    "/users/{user_id}",
    summary="Change a user",
    responses=problem_responses(403, 404, 409, 422),
)
async def update_user(
    user_id: IdPath,
    data: UserUpdate,
    caller: CallerDep,
    database: DatabaseDep,
    passwords: PasswordsDep,
) -> UserOut:
    """`is_active: false` deactivates as DELETE does; `password: null` removes the password."""
    require_admin(caller)
    password_hash = await service.hash_password(passwords, data.password)
    async with database.session(write=True) as session:
        return await service.update_user(
            session=session, caller=caller, user_id=user_id, data=data, password_hash=password_hash
        )


@router.delete(
    "/users/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Deactivate a user",
    responses=problem_responses(403, 404, 409),
)
async def deactivate_user(user_id: IdPath, caller: CallerDep, session: SessionDep) -> None:
    """Its tokens and sessions stop working at once; the user and its history stay."""
    await service.deactivate_user(session=session, caller=caller, user_id=user_id)
