from __future__ import annotations

from testops_kit.errors import Conflict, NotFound


class TagNotFound(NotFound):
    code = "tag_not_found"
    title = "Tag not found"


class TagNameConflict(Conflict):
    code = "tag_name_conflict"
    title = "Tag name conflict"
