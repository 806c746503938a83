"""One OpenAPI 3.1 document for the gateway, merged from the services' own documents.

Paths are the same on the services and on the gateway (``/api/v1/...``), so they are copied as
they are; what needs care is everything that is named:

- ``components`` (schemas, responses, parameters, ...): a name several services define with the
  same content is kept once; a name whose content differs is prefixed with the service's name in
  PascalCase in *every* service that defines it (``CatalogAttachmentOut``,
  ``ResultsAttachmentOut``), and every ``$ref`` of that service (paths and components alike,
  however deep, and discriminator mappings) is rewritten. "Same content" is judged after the
  renames: two textually equal schemas that point at a renamed schema (``Page_AttachmentOut_``)
  are different schemas, and are renamed in turn, until nothing changes.
- ``operationId``: an id used by more than one service gets the service's prefix
  (``catalog_list_things``) in each of them; the gateway's own ids are never renamed.
- tags: the services' tags in service order, each name once (the first description wins), then
  the gateway's; a tag no operation uses is dropped.
- answers: every operation the gateway forwards also lists what the gateway itself may answer
  (:data:`GATEWAY_ANSWERS`: 401, 403, 429, 502, 504, problem+json with their headers), as
  references to ``components/responses``.

Only ``/api/v1`` paths are taken from the services (their ``/healthz`` and ``/readyz`` are the
gateway's own business), and so only the components those paths lead to.

:func:`merge_documents` is pure (its inputs are not modified); :func:`merge_with_report` also
says, one line per clash in a stable order, what was renamed. :class:`OpenAPIDocument` keeps the
merged document of whatever services answered, and rebuilds it when one was missing or it has
grown old.
"""

from testops_gateway.openapi.answers import GATEWAY_ANSWERS, GatewayAnswer
from testops_gateway.openapi.document import OpenAPIDocument
from testops_gateway.openapi.gateway_paths import gateway_operations
from testops_gateway.openapi.merge import merge_documents, merge_with_report
from testops_gateway.openapi.names import GATEWAY_OWNER, pascal_case, snake_case

__all__ = [
    "GATEWAY_ANSWERS",
    "GATEWAY_OWNER",
    "GatewayAnswer",
    "OpenAPIDocument",
    "gateway_operations",
    "merge_documents",
    "merge_with_report",
    "pascal_case",
    "snake_case",
]
