"""The views' FastAPI app, mounted by the Airflow plugin under ``URL_PREFIX``.

Server-rendered pages (Jinja2, autoescape on) over the library's own functions: the search
page runs ``news_ingest.search`` (the query builder of `news-ingest search`), the alerts
page ``news_ingest.alerts``, the feed health page ``news_ingest.views.health`` (the figures of
`news-ingest health`). Every link is relative, so the pages work under any prefix.
Elasticsearch is reached from the server with the pipeline's credentials; the browser only
ever sees HTML.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader

from elasticsearch import Elasticsearch, NotFoundError
from news_ingest.alerting import alerts, delivery, watchlist_store
from news_ingest.es import history, store
from news_ingest.es.indices import IndexNames
from news_ingest.es.search import SearchRequest, search
from news_ingest.settings import Settings, get_settings
from news_ingest.views import auth, pages
from news_ingest.views.health import Thresholds, health_report

URL_PREFIX = "/news-ingest"
BASE = URL_PREFIX.strip("/")
# The plugin's entries in the Airflow UI: hrefs relative to the UI's base URL. A source's
# DAG id is its source id, so the DAG tab narrows Feed health to that source.
EXTERNAL_VIEWS = [
    {"name": "News search", "href": f"{BASE}/search", "url_route": "news-search"},
    {"name": "News alerts", "href": f"{BASE}/alerts", "url_route": "news-alerts"},
    {"name": "Feed health", "href": f"{BASE}/health", "url_route": "news-feed-health"},
    {
        "name": "Feed health",
        "href": f"{BASE}/health?source={{DAG_ID}}",
        "destination": "dag",
        "url_route": "news-dag-feed-health",
    },
]
PAGE_SIZE = 10
ALERTS_PAGE_SIZE = 25
FACET_TITLES = {
    "sources": ("source", "Source"),
    "languages": ("language", "Language"),
    "topics": ("topic", "Topic"),
    "watchlists": ("watchlist", "Watchlist"),
}


@cache
def _templates() -> Environment:
    env = Environment(
        loader=PackageLoader("news_ingest.views", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["segments"] = pages.segments
    env.globals["duration"] = pages.duration
    env.filters["when"] = pages.short_time
    return env


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = (
        _templates()
        .get_template(name)
        .render(root=pages.root_of(request.scope.get("path", "/")), **context)
    )
    return HTMLResponse(html, status_code=status_code)


def _es(request: Request) -> Elasticsearch:
    """One client per app, made at the first request (the API server may start before
    Elasticsearch does)."""
    state = request.app.state
    if state.es is None:
        try:
            state.es = store.connect(state.settings_for())
        except store.StoreUnavailable as exc:
            raise HTTPException(503, str(exc)) from None
    client: Elasticsearch = state.es
    return client


Es = Annotated[Elasticsearch, Depends(_es)]


def _document(client: Elasticsearch, index: str, doc_id: str) -> dict[str, Any]:
    try:
        found = client.get(index=index, id=doc_id)
    except NotFoundError:
        raise HTTPException(404, f"no document {doc_id} in {index}") from None
    return {"_id": found["_id"], **found["_source"]}


def create_app(settings_for: Callable[[], Settings] = get_settings) -> FastAPI:
    app = FastAPI(title="news-ingest views", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings_for = settings_for
    app.state.es = None

    def names() -> IndexNames:
        return IndexNames(settings_for().index_prefix)

    @app.exception_handler(HTTPException)
    async def refused(request: Request, exc: HTTPException) -> Response:
        login = auth.login_url(str(request.url)) if exc.status_code == 401 else None
        return render(
            request,
            "error.html",
            exc.status_code,
            status=exc.status_code,
            detail=exc.detail,
            login=login,
            user=None,
        )

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request, user: auth.Reader) -> Response:
        # /news-ingest/ -> search; /news-ingest (no slash) resolves relative to the root.
        at_root = request.scope.get("path", "/").endswith("/")
        return RedirectResponse("search" if at_root else f"{BASE}/search")

    @app.get("/search", response_class=HTMLResponse)
    def search_page(
        request: Request,
        user: auth.Reader,
        client: Es,
        q: str = "",
        source: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies defaults)
        language: Annotated[list[str], Query()] = [],  # noqa: B006
        topic: Annotated[list[str], Query()] = [],  # noqa: B006
        watchlist: Annotated[list[str], Query()] = [],  # noqa: B006
        since: str = "",
        until: str = "",
        sort: str = "relevance",
        stories: str = "",
        page: Annotated[int, Query(ge=1)] = 1,
    ) -> Response:
        collapsed = stories == "one"
        params: dict[str, Any] = {
            "q": q,
            "source": source,
            "language": language,
            "topic": topic,
            "watchlist": watchlist,
            "since": since,
            "until": until,
            "sort": sort if sort != "relevance" else None,
            "stories": "one" if collapsed else None,
            "page": None,
        }
        request_ = SearchRequest(
            text=q,
            sources=tuple(source),
            languages=tuple(language),
            topics=tuple(topic),
            watchlists=tuple(watchlist),
            since=since or None,
            until=until or None,
            sort="date" if sort == "date" else "relevance",
            page=page,
            size=PAGE_SIZE,
            facets=True,
            collapse="story" if collapsed else None,
        )
        try:
            result = search(client, names(), request_)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        facets = [
            {
                "title": FACET_TITLES[name][1],
                "buckets": [
                    {
                        "key": key,
                        "count": count,
                        "on": key in params[FACET_TITLES[name][0]],
                        "href": "search?" + pages.toggled(params, FACET_TITLES[name][0], key),
                    }
                    for key, count in result.facets.get(name, [])
                ],
            }
            for name in FACET_TITLES
        ]
        return render(
            request,
            "search.html",
            user=auth.user_name(user),
            params=params,
            result=result,
            facets=facets,
            page=page,
            pages=pages.page_numbers(page, result.total, PAGE_SIZE),
            page_href=lambda n: "search?" + pages.query_string({**params, "page": str(n)}),
            q=q,
            since=since,
            until=until,
            sort=sort,
        )

    @app.get("/article/{doc_id}", response_class=HTMLResponse)
    def article_page(request: Request, doc_id: str, user: auth.Reader, client: Es) -> Response:
        article = _document(client, names().articles, doc_id)
        in_force = [v.watchlist for v in watchlist_store.current(client, names()) if not v.disabled]
        matches = alerts.match_article(in_force, article)
        marks = pages.watchlist_marks(matches)
        return render(
            request,
            "article.html",
            user=auth.user_name(user),
            article=article,
            matches=matches,
            marks=marks,
            revisions=history.revisions_of(client, names(), doc_id),
        )

    @app.get("/alerts", response_class=HTMLResponse)
    def alerts_page(
        request: Request,
        user: auth.Reader,
        client: Es,
        watchlist: str = "",
        page: Annotated[int, Query(ge=1)] = 1,
        retried: str = "",
    ) -> Response:
        listing = alerts.alert_page(
            client,
            names(),
            watchlist=watchlist or None,
            start=(page - 1) * ALERTS_PAGE_SIZE,
            size=ALERTS_PAGE_SIZE,
        )
        # Delivery goes to the newest version's channels (see alerting.delivery.deliver).
        by_id = {v.watchlist.id: v.watchlist for v in watchlist_store.current(client, names())}
        now = datetime.now(UTC)
        rows = [
            {
                **row,
                "state": delivery.state_of(row),
                "channel_states": pages.channel_states(row, by_id.get(row["watchlist"])),
                "may_retry": pages.may_retry(row, now) and auth.may_act_on(user, row["source"]),
            }
            for row in listing.rows
        ]
        return render(
            request,
            "alerts.html",
            user=auth.user_name(user),
            rows=rows,
            total=listing.total,
            watchlists=listing.watchlists,
            watchlist=watchlist,
            page=page,
            retried=retried,
            pages=pages.page_numbers(page, listing.total, ALERTS_PAGE_SIZE),
        )

    @app.post("/alerts/{alert_id}/retry", dependencies=[Depends(auth.same_origin)])
    def retry_delivery(request: Request, alert_id: str, user: auth.Reader, client: Es) -> Response:
        settings = settings_for()
        alert = _document(client, names().alerts, alert_id)
        if not auth.may_act_on(user, alert["source"]):
            raise HTTPException(403, "retrying a delivery needs an operator role")
        counts = delivery.deliver(settings, client, [alert_id], by_operator=True)
        client.indices.refresh(index=names().alerts)
        outcome = pages.retry_outcome(counts)
        return RedirectResponse(f"../../alerts?retried={outcome}", status_code=303)

    @app.get("/health", response_class=HTMLResponse)
    def health_page(
        request: Request,
        user: auth.Reader,
        client: Es,
        source: Annotated[list[str], Query()] = [],  # noqa: B006
    ) -> Response:
        settings = settings_for()
        report = health_report(
            client, names(), datetime.now(UTC), Thresholds.of(settings), sources=source
        )
        return render(
            request,
            "health.html",
            user=auth.user_name(user),
            report=report,
            sources=source,
            thresholds=Thresholds.of(settings),
        )

    return app
