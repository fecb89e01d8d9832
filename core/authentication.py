"""Bearer-token authentication: simplejwt's, with every malformed token a 401.

simplejwt looks the user up by the token's ``user_id`` claim; a token signed with the right key but
whose ``user_id`` is not a UUID (or not a string) made that lookup raise a ``ValidationError`` — a
500. Here any claim that cannot name a user is an invalid token (401 ``token_not_valid``).

Revocation (issue 17.5) is simplejwt's, configured in ``settings.SIMPLE_JWT``: a token carries a
digest of its user's password hash (``pwd``), checked on every request, so a password change ends
every earlier token; an inactive user's tokens are refused; refresh tokens rotate and are
blacklisted on use and on logout (``portfolios.api.auth``).

One statement per request: the user's row is fetched with the database's change counter alongside it
(a scalar subquery, ``core.datachange.version_expression``), and the counter is kept on the
authenticator (:attr:`JWTAuthentication.data_version`) for the response cache and its ASGI front
(``core.response_cache.request_data_version``), which then need no read of their own. The user's row is
still read on every request — authentication is never cached — and the counter is read in the same
statement, so in the same snapshot, as that row and before any served data: a cached answer keyed by it
is correct (``core.datachange``'s module doc).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.models import Field, Model
from django.utils.translation import gettext as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication as SimpleJWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

from core.datachange import version_expression, version_read

# The annotation that carries the change counter on the user's row (taken off the user: see user_with_version).
_VERSION_ANNOTATION = "sigmasight_data_version"


@dataclass(frozen=True)
class UserRowPlan:
    """The user model's row by ``USER_ID_FIELD`` with the change counter annotated, compiled for one database.

    ``sql`` takes one parameter, the user's id as ``id_field``'s database value. Each selected column's value
    goes through ``converters`` (the backend's and the fields', by column index, as the ORM applies them:
    SQLite's datetimes, booleans and UUIDs); the first ``len(attnames)`` values build the user with
    ``Model.from_db``, and the value at ``version_index`` is the counter."""

    sql: str
    id_field: Field[Any, Any]  # simplejwt's USER_ID_FIELD, a concrete column
    attnames: tuple[str, ...]
    converters: tuple[tuple[int, tuple[Callable[..., Any], ...], Any], ...]  # (column, converters, expression)
    version_index: int


@functools.cache
def user_row_plan(user_model: type[Model], using: str) -> UserRowPlan:
    """:class:`UserRowPlan` of ``user_model`` on database ``using``, compiled once per process.

    What ``Manager.raw`` and the queryset's iterator redo on every call — compiling the query, matching columns
    to fields, collecting the converters — done once: ``user_with_version`` then costs one execute, one fetch
    and the conversions: 0.30 → 0.16 ms per call on SQLite (measured in a loop on the 2-core VM; a
    response-front hit costs 1.7–1.9 ms, ``bench/bench_front_hits.py``)."""
    id_field = user_model._meta.get_field(api_settings.USER_ID_FIELD)
    if not isinstance(id_field, Field):  # a concrete column (simplejwt's USER_ID_FIELD), not a relation
        raise TypeError(f"USER_ID_FIELD {api_settings.USER_ID_FIELD!r} is not a column of {user_model.__name__}")
    queryset = user_model._default_manager.using(using).annotate(**{_VERSION_ANNOTATION: version_expression()})
    probe = {api_settings.USER_ID_FIELD: uuid.UUID(int=0)}
    compiler = queryset.filter(**probe).query.get_compiler(using=using)
    sql, params = compiler.as_sql()
    if len(params) != 1:  # the id is the only parameter (the counter's subquery has none)
        raise ValueError(f"the user query takes {len(params)} parameters, not one: {sql}")
    expressions = [expression for expression, _sql, _alias in compiler.select]
    klass_info = compiler.klass_info or {}
    columns = list(klass_info.get("select_fields", []))
    attnames = tuple(expressions[i].target.attname for i in columns)
    if columns != list(range(len(attnames))):  # the model's columns first, then the counter
        raise ValueError(f"unexpected column order in the user query: {sql}")
    converters = tuple(
        (index, tuple(functions), expression)
        for index, (functions, expression) in sorted(compiler.get_converters(expressions).items())
    )
    return UserRowPlan(
        sql=str(sql),
        id_field=id_field,
        attnames=attnames,
        converters=converters,
        version_index=compiler.annotation_col_map[_VERSION_ANNOTATION],
    )


def user_with_version(user_model: type[Model], user_id: uuid.UUID) -> tuple[Any, Any] | None:
    """The user whose ``USER_ID_FIELD`` is ``user_id`` and the change counter read with its row (raw, see
    ``core.datachange.version_read``), in one statement; None when there is no such user. The user is built
    as the ORM builds it (``Model.from_db``, every column converted by the backend)."""
    using = router.db_for_read(user_model)
    connection = connections[using]
    plan = user_row_plan(user_model, using)
    value = plan.id_field.get_db_prep_value(user_id, connection, prepared=False)
    with connection.cursor() as cursor:
        cursor.execute(plan.sql, [value])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, functions, expression in plan.converters:
        converted = values[index]
        for convert in functions:
            converted = convert(converted, expression, connection)
        values[index] = converted
    user = user_model.from_db(using, list(plan.attnames), values[: len(plan.attnames)])
    return user, values[plan.version_index]  # the counter is kept by the caller, not on the user


def token_user_id(payload: Any) -> uuid.UUID:
    """The user id a token names, or ``InvalidToken`` when its ``user_id`` claim is not a UUID."""
    value = payload.get(api_settings.USER_ID_CLAIM) if hasattr(payload, "get") else None
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        raise InvalidToken("Token contained no recognizable user identification")
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise InvalidToken("Token contained no recognizable user identification") from exc


class JWTAuthentication(SimpleJWTAuthentication):
    """simplejwt's authentication, answering 401 (not 500) for a ``user_id`` that is not a UUID, and reading
    the change counter in the same statement as the user's row (module doc).

    ``data_version``: that counter, under ``core.datachange.data_version``'s rules (None inside a
    transaction or before the first counted write), once :meth:`get_user` has returned a user; None
    before. DRF makes one authenticator per request, so it is this request's."""

    data_version: int | None = None

    def get_user(self, validated_token: Any) -> Any:
        """simplejwt's checks, in its order and with its errors: the user found (else ``user_not_found``),
        active (``CHECK_USER_IS_ACTIVE``, else ``user_inactive``), the token issued for the current password
        (``CHECK_REVOKE_TOKEN``: its ``REVOKE_TOKEN_CLAIM`` against the digest of the password hash, else
        ``password_changed``); a ``user_id`` that is not a UUID is an invalid token. One SELECT: the user's
        row and the change counter, kept in :attr:`data_version`."""
        self.data_version = None
        user_id = token_user_id(validated_token)
        found = user_with_version(self.user_model, user_id)
        if found is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")
        user, version = found
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed(_("The user's password has been changed."), code="password_changed")
        self.data_version = version_read(version, using=user._state.db or DEFAULT_DB_ALIAS)
        return user


class JWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme of this class: simplejwt's (``jwtAuth``, a Bearer header)."""

    target_class = "core.authentication.JWTAuthentication"
