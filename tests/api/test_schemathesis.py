"""schemathesis against the OpenAPI document, over every route, on SQLite and PostgreSQL: no
5xx, every status, content type and body as documented. Each case runs as a role that holds
the route's permission (so the route's own work runs, not only its refusal)."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from schoolmode.access.roles import ROLE_PERMISSIONS, Role
from schoolmode.api.docs import api_routes, route_requirement
from tests.api.conftest import Api


def _holder(permission: object) -> str | None:
    """A role holding ``permission`` (None: anonymous is enough)."""
    if permission is None:
        return None
    return next(r.value for r in Role if r is not Role.public and permission in ROLE_PERMISSIONS[r])


ROLE_OF: dict[tuple[str, str], str | None] = {}
for _path, _route in api_routes():
    _needs = route_requirement(_route)
    for _method in _route.methods:
        ROLE_OF[(_method, _path)] = _holder(_needs.permission if _needs else None)


# A request the schema allows may still be refused by the domain (400: no agreement in force
# that day, no stored run): the schema cannot state the policies' terms or the stored data.
# Every other built-in check runs: no 5xx, statuses, content types, bodies and headers as
# documented, invalid data refused, and no route that requires a token answering without one.
EXAMPLES = 12
"""Generated cases per operation (each backend)."""


def _check(operation: Any, headers: dict[str, str]) -> Any:
    """A hypothesis test of ``operation``: its generated cases sent with ``headers``."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def answers(case: Any) -> None:
        case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

    return answers


def test_every_route_answers_as_documented(api: Api) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(o.method.upper(), o.path) for o in operations} == set(ROLE_OF)
    for operation in operations:
        role = ROLE_OF[(operation.method.upper(), operation.path)]
        _check(operation, {} if role is None else api.as_(role))()
