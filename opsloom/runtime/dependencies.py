"""What route handlers of the runtime take through FastAPI's `Depends`: the process's registries."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from opsloom.runtime.forms import FormRegistry


def form_registry(request: Request) -> FormRegistry:
    return request.app.state.forms


# A route handler's compiled forms: `async def handler(..., forms: Forms)`.
Forms = Annotated[FormRegistry, Depends(form_registry)]
