"""What route handlers of the runtime take through FastAPI's `Depends`: the process's registries.

Each is `async def` although none waits: a plain `def` dependency would run in the thread pool."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from opsloom.runtime.flow.instances import FlowCache, Services
from opsloom.runtime.forms import FormRegistry


async def form_registry(request: Request) -> FormRegistry:
    return request.app.state.forms


# A route handler's compiled forms: `async def handler(..., forms: Forms)`.
Forms = Annotated[FormRegistry, Depends(form_registry)]


async def flow_cache(request: Request) -> FlowCache:
    return request.app.state.flows


# A route handler's compiled flows: `async def handler(..., flows: Flows)`.
Flows = Annotated[FlowCache, Depends(flow_cache)]


async def flow_services(forms: Forms, flows: Flows) -> Services:
    return Services(forms, flows)


# What the flow shell needs from the application (forms and flows): `services: FlowServices`.
FlowServices = Annotated[Services, Depends(flow_services)]
