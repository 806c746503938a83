"""Routes of /me/tokens, and of /users/{id}/tokens for admins (service accounts' tokens)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from testops_gateway.callers import CallerDep
from testops_gateway.tokens import service
from testops_gateway.tokens.schemas import TokenCreate, TokenCreated, TokenOut
from testops_gateway.usage import UsageDep
from testops_kit.database import SessionDep
from testops_kit.errors import problem_responses
from testops_kit.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from testops_kit.schemas import MAX_ID, IdPath

router = APIRouter(tags=["tokens"])

TokenIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The token's id.")]


@router.get("/me/tokens", summary="List the caller's tokens", responses=problem_responses(422))
async def list_my_tokens(
    caller: CallerDep,
    session: SessionDep,
    usage: UsageDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[TokenOut]:
    """Tokens that were not revoked, newest first (expired ones too, with their `expires_at`)."""
    if caller.user_id is None:
        return Page(items=[], next_cursor=None)
    items, next_cursor = await service.list_tokens(
        session=session, user_id=caller.user_id, usage=usage, cursor=cursor, limit=limit
    )
    return Page(items=items, next_cursor=next_cursor)


@router.post(
    "/me/tokens",
    status_code=status.HTTP_201_CREATED,
    summary="Make a token",
    responses=problem_responses(403, 422),
)
async def create_my_token(
    data: TokenCreate,
    caller: CallerDep,
    session: SessionDep,
    usage: UsageDep,
    response: Response,
) -> TokenCreated:
    """The answer's `token` is the secret, shown this once: clients send it as
    `Authorization: Bearer <token>`."""
    token = await service.create_own_token(session=session, caller=caller, data=data, usage=usage)
    response.headers["Location"] = f"/api/v1/me/tokens/{token.id}"
    response.headers["Cache-Control"] = "no-store"
    return token


@router.get(
    "/me/tokens/{token_id}",
    summary="Get one of the caller's tokens",
    responses=problem_responses(403, 404),
)
async def get_my_token(
    token_id: TokenIdPath, caller: CallerDep, session: SessionDep, usage: UsageDep
) -> TokenOut:
    return await service.get_token(
        session=session, user_id=service.own_user_id(caller), token_id=token_id, usage=usage
    )


@router.delete(
    "/me/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke a token",
    responses=problem_responses(403, 404),
)
async def revoke_my_token(token_id: TokenIdPath, caller: CallerDep, session: SessionDep) -> None:
    """The next request with it is 401."""
    await service.revoke_token(
        session=session, user_id=service.own_user_id(caller), token_id=token_id
    )


@router.get(
    "/users/{user_id}/tokens",
    summary="List a user's tokens",
    responses=problem_responses(403, 404, 422),
)
async def list_user_tokens(
    user_id: IdPath,
    caller: CallerDep,
    session: SessionDep,
    usage: UsageDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[TokenOut]:
    items, next_cursor = await service.list_user_tokens(
        session=session, caller=caller, user_id=user_id, usage=usage, cursor=cursor, limit=limit
    )
    return Page(items=items, next_cursor=next_cursor)


@router.post(
    "/users/{user_id}/tokens",
    status_code=status.HTTP_201_CREATED,
    summary="Make a token for a service account",
    responses=problem_responses(403, 404, 409, 422),
)
async def create_user_token(
    user_id: IdPath,
    data: TokenCreate,
    caller: CallerDep,
    session: SessionDep,
    usage: UsageDep,
    response: Response,
) -> TokenCreated:
    token = await service.create_service_token(
        session=session, caller=caller, user_id=user_id, data=data, usage=usage
    )
    response.headers["Location"] = f"/api/v1/users/{user_id}/tokens/{token.id}"
    response.headers["Cache-Control"] = "no-store"
    return token


@router.get(
    "/users/{user_id}/tokens/{token_id}",
    summary="Get a user's token",
    responses=problem_responses(403, 404),
)
async def get_user_token(
    user_id: IdPath, token_id: TokenIdPath, caller: CallerDep, session: SessionDep, usage: UsageDep
) -> TokenOut:
    return await service.get_user_token(
        session=session, caller=caller, user_id=user_id, token_id=token_id, usage=usage
    )


@router.delete(
    "/users/{user_id}/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke a user's token",
    responses=problem_responses(403, 404),
)
async def revoke_user_token(
    user_id: IdPath, token_id: TokenIdPath, caller: CallerDep, session: SessionDep
) -> None:
    await service.revoke_user_token(
        session=session, caller=caller, user_id=user_id, token_id=token_id
    )
