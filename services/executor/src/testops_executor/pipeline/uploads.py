"""How the executor vouches for its uploads to results: a principal of its own, signed with a key
of its own, for each attempt.

An execution runs long after the request that queued it, so no principal of the gateway's is
left to upload with; the executor signs one (issuer ``testops-executor``) that results accepts
for uploads only::

    signer = upload_signer(settings)  # at start-up: MissingKey when there is no key
    headers = {HEADER: signer.sign(upload_principal(...), audience=RESULTS_AUDIENCE)}

The key stays in this process: the commands an execution runs get none of the executor's
settings (``Runner._child_env``).
"""

from __future__ import annotations

from testops_executor.settings import ExecutorSettings
from testops_kit.principal import (
    EXECUTOR_ISSUER,
    MissingKey,
    Principal,
    PrincipalSigner,
    load_private_key,
    read_key,
)

RESULTS_AUDIENCE = "results"
UPLOAD_ROLE = "editor"
"""The role of a member who may queue an execution, which is what the upload acts for."""
UPLOAD_SCOPES = frozenset({"write"})


def upload_signer(settings: ExecutorSettings) -> PrincipalSigner:
    """The signer of the executor's uploads, with the key of ``UPLOAD_SIGNING_KEY`` or its
    file; :class:`MissingKey` names the setting when there is none or it is not an Ed25519
    private key."""
    setting = f"{settings.model_config.get('env_prefix', '')}UPLOAD_SIGNING_KEY".upper()
    secret = settings.upload_signing_key
    pem = read_key(
        secret.get_secret_value() if secret is not None else None,
        settings.resolved_upload_signing_key_file,
        setting=setting,
    )
    try:
        key = load_private_key(pem)
    except (ValueError, TypeError) as exc:
        # The message is cryptography's or the kit's: it never quotes the key.
        raise MissingKey(f"{setting} is not an Ed25519 private key in PEM: {exc}") from None
    return PrincipalSigner(key, issuer=EXECUTOR_ISSUER)


def upload_principal(*, execution_id: str, project: str, created_by: str | None) -> Principal:
    """Who an execution's upload acts for: the execution itself, in its project, named after
    whoever queued it, allowed to write only."""
    subject = f"execution:{execution_id}"
    return Principal(
        subject=subject,
        name=created_by or subject,
        project=project,
        role=UPLOAD_ROLE,
        scopes=UPLOAD_SCOPES,
        issuer=EXECUTOR_ISSUER,
    )
