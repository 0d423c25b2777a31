"""Both OpenAPI documents hold their promises: random requests from them never get a 500 or an undeclared status.

Schemathesis generates requests from the global document (/api/openapi.json)
and from the installed procurement app's (/api/apps/procurement/openapi.json),
sends them as an admin with an API token, and checks every answer: no server
error, and a status the document declares for that operation. Bounded and
derandomized, so CI sees the same cases every run. Cases mix valid inputs
with invalid ones (wrong types, out-of-range ids, missing fields), which must
get a declared 4xx, never a 500.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from opsloom.designer.packages import install_package, read_package
from opsloom.platform.context import RequestContext
from opsloom.resources import data_path

APP = "procurement"
DOCUMENTS = ["/api/openapi.json", f"/api/apps/{APP}/openapi.json"]
MAX_EXAMPLES = 25

# Operations that would take away the very login the run goes on with.
EXCLUDED = {
    ("POST", "/api/auth/logout"),  # ends the session
    ("POST", "/api/auth/password"),  # a new password would lock the admin out of the next cases
}


def _install_procurement(client: TestClient) -> None:
    async def run() -> None:
        async with client.app.state.db.session(write=True) as session:
            await install_package(
                session,
                RequestContext.for_now(),
                read_package(data_path("examples") / APP),
                registry=client.app.state.forms,
                with_sample_data=True,
            )

    client.portal.call(run)


def _request(case: Any) -> dict[str, Any]:
    """Schemathesis prepares a request for `requests`; encode it there, and send its bytes through the TestClient."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    kwargs.pop("cookies", None)
    prepared = requests.Request(**kwargs).prepare()
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    # A generated header may hold any text; send it as UTF-8 bytes, as a careless client would, for the server to judge.
    headers = {k: v.encode() if isinstance(v, str) else v for k, v in prepared.headers.items()}
    return {"method": prepared.method, "url": prepared.url, "headers": headers, "content": body}


class _Guarded:
    """Keep the run's own login alive: a case that would revoke its token or demote the admin aims elsewhere."""

    def __init__(self, admin_id: int, token_id: int) -> None:
        self.admin_id, self.token_id = admin_id, token_id

    def adjust(self, case: Any) -> None:
        params = case.path_parameters or {}
        if params.get("user_id") == self.admin_id and case.method.upper() == "PATCH":
            params["user_id"] = self.admin_id + 1
        if params.get("token_id") == self.token_id:
            params["token_id"] = self.token_id + 1


@pytest.mark.slow
@pytest.mark.parametrize("document", DOCUMENTS)
def test_random_requests_get_no_server_error_and_only_declared_statuses(client, document):
    _install_procurement(client)
    created = client.post("/api/auth/tokens", json={"name": "schemathesis", "write": True})
    assert created.status_code == 201, created.text
    client.headers["Authorization"] = f"Bearer {created.json()['token']}"
    guard = _Guarded(client.get("/api/me").json()["id"], created.json()["id"])
    answer = client.get(document)
    assert answer.status_code == 200, answer.text
    schema = schemathesis.openapi.from_dict(answer.json())
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in EXCLUDED:
            continue
        operations += 1

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is reported as found
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy() | operation.as_strategy(GenerationMode.NEGATIVE))
        def run(case: Any) -> None:
            guard.adjust(case)
            response = client.request(**_request(case))
            try:
                case.validate_response(response, checks=[not_a_server_error, status_code_conformance])
            except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - one run lists every broken operation
                problems = [str(e).splitlines()[0] for e in getattr(error, "exceptions", [error])]
                line = f"{case.method} {case.path} -> {response.status_code}: {'; '.join(problems)}"
                if line not in failures:
                    failures.append(line)

        run()
    assert operations > 10
    assert not failures, "\n".join(failures)
