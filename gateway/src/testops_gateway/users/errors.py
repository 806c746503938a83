from __future__ import annotations

from testops_kit.errors import Conflict, NotFound


class UserNotFound(NotFound):
    code = "user_not_found"
    title = "User not found"


class UsernameConflict(Conflict):
    code = "username_conflict"
    title = "Username conflict"


class UserDeactivated(Conflict):
    code = "user_deactivated"
    title = "User deactivated"


class LastAdmin(Conflict):
    code = "last_admin"
    title = "Last admin"


class NotAServiceAccount(Conflict):
    code = "not_a_service_account"
    title = "Not a service account"
