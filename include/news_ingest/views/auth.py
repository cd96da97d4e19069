"""Who may see the views and who may act: the API server's own users, through its auth manager.

Plugin apps mounted on the API server get no protection of their own, so every route
depends on ``reader`` (or ``operator``): the user comes from the JWT that the Airflow UI's
login leaves in its cookie, or from a bearer token, exactly as the core API reads it. Reading
needs the right to read DAGs (every Airflow role above none); retrying a delivery needs the
right to act on a source DAG's runs (operators, not viewers), which is what re-running the
DAG's notify step would need, under both the simple and the FAB auth manager.
"""

from __future__ import annotations

from typing import Annotated, Any

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends, HTTPException, Request, status


async def reader(request: Request, user: Annotated[Any, Depends(get_user)]) -> Any:
    if not get_auth_manager().is_authorized_dag(method="GET", user=user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this account may not read DAGs")
    return user


def may_act_on(user: Any, source: str) -> bool:
    allowed: bool = get_auth_manager().is_authorized_dag(
        method="PUT", access_entity=DagAccessEntity.RUN, details=DagDetails(id=source), user=user
    )
    return allowed


def same_origin(request: Request) -> None:
    """Refuse a form POST that another site made the browser send (the cookie is
    SameSite=Lax already; this is the second lock)."""
    origin = request.headers.get("origin")
    if origin and origin.split("://", 1)[-1] != request.headers.get("host"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site request refused")


def user_name(user: Any) -> str:
    name: str = user.get_name()
    return name


def login_url(next_url: str) -> str:
    url: str = get_auth_manager().get_url_login(next_url=next_url)
    return url


Reader = Annotated[Any, Depends(reader)]
