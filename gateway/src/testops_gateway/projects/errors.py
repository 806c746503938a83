from __future__ import annotations

from testops_kit.errors import Conflict, NotFound
from testops_kit.projects import ProjectNotFound

__all__ = ["MemberNotFound", "ProjectArchived", "ProjectKeyConflict", "ProjectNotFound"]


class ProjectKeyConflict(Conflict):
    code = "project_key_conflict"
    title = "Project key conflict"


class ProjectArchived(Conflict):
    code = "project_archived"
    title = "Project archived"


class MemberNotFound(NotFound):
    code = "member_not_found"
    title = "Member not found"
