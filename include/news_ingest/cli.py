"""The ``news-ingest`` command line: the ops entry point to the same functions the DAGs run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from elasticsearch import NotFoundError
from news_ingest.configfile import ConfigError
from news_ingest.es import indices, store
from news_ingest.local import localnode
from news_ingest.logs import configure_logging
from news_ingest.redaction import redact
from news_ingest.settings import Settings, get_settings
from news_ingest.sources import Source, get_source
from news_ingest.views.health import SHARES, HealthReport, Thresholds, health_report
from news_ingest.views.pages import duration as _duration

app = typer.Typer(no_args_is_help=True, help="News ingestion pipeline: ops commands.")
es_app = typer.Typer(no_args_is_help=True, help="The local Elasticsearch node (local mode, tests).")
app.add_typer(es_app, name="es")
alerts_app = typer.Typer(help="Watchlist alerts: list them, or backfill a watchlist.")
app.add_typer(alerts_app, name="alerts")
watchlist_app = typer.Typer(
    no_args_is_help=True,
    help="Watchlists in Elasticsearch (seeded from watchlists.yaml): list, show, change, test.",
)
app.add_typer(watchlist_app, name="watchlist")


@es_app.command("start")
def es_start() -> None:
    """Download (once), configure and start the local node; wait until it is ready."""
    try:
        node = localnode.start(get_settings())
    except localnode.LocalNodeError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(localnode.describe(node))


@es_app.command("stop")
def es_stop() -> None:
    """Stop the local node; its data stays for the next start."""
    try:
        stopped = localnode.stop(get_settings())
    except localnode.LocalNodeError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo("stopped" if stopped else "not running")


@es_app.command("status")
def es_status() -> None:
    """Print the local node's URL, credentials and health; exit 1 when it is down."""
    node = localnode.status(get_settings())
    typer.echo(localnode.describe(node))
    if not node.running:
        raise typer.Exit(1)


console = Console()


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(redact(message))}", markup=True, highlight=False)
    return typer.Exit(2)


def _connect(settings: Settings, *, install: bool = False) -> Any:
    """A checked client; ``install`` creates templates and indices first (writers only:
    read-only commands must work with the analyst role, which may not create anything)."""
    try:
        es = store.connect(settings)
        if install:
            indices.install(es, settings.index_prefix)
    except store.StoreUnavailable as exc:
        raise _fail(str(exc)) from None
    return es


def _source_for(settings: Settings, source_id: str | None, feeds: list[str]) -> Source:
    if source_id:
        return get_source(settings.config_dir, source_id)
    if not feeds:
        raise ConfigError("give --source ID (from sources.yaml) or at least one --feed URL")
    return Source.model_validate(
        {
            "id": "adhoc",
            "name": "ad-hoc feeds",
            "feeds": feeds,
            "language": "ar",
            "poll_minutes": 60,
        }
    )


@app.command()
def run(
    source_id: Annotated[
        str | None, typer.Option("--source", help="Source id in sources.yaml.")
    ] = None,
    feeds: Annotated[
        list[str] | None, typer.Option("--feed", help="A feed URL (repeatable).")
    ] = None,
    profile: Annotated[str | None, typer.Option(help="Site profile for --feed runs.")] = None,
) -> None:
    """One pass over a source's feeds (or ad-hoc --feed URLs): poll, fetch, extract, index."""
    # Imported here: extraction pulls in trafilatura, which the `es` commands never need.
    from news_ingest import pipeline
    from news_ingest.es import leases

    settings = get_settings()
    configure_logging()
    try:
        source = _source_for(settings, source_id, feeds or [])
        if profile:
            source = source.model_copy(update={"profile": profile})
        feed_urls = [*feeds] if feeds and source_id else source.feed_urls
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    es = _connect(settings, install=True)
    run_id = "cli__" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    with _progress() as progress:
        task = progress.add_task(f"{source.id}: polling feeds", total=None)

        def planned(new: int) -> None:
            progress.update(task, description=f"{source.id}: fetching + indexing", total=new)

        def page_done() -> None:
            progress.advance(task)

        try:
            counts = pipeline.run_once(
                source,
                feed_urls,
                settings,
                es,
                run_id=run_id,
                on_page=page_done,
                on_planned=planned,
            )
        except (
            store.StoreUnavailable,
            pipeline.FeedsUnreachable,
            leases.LeaseHeld,
            leases.LeaseLost,
        ) as exc:
            raise _fail(str(exc)) from None
    table = Table(title=f"run {run_id} of {source.id}")
    table.add_column("count")
    table.add_column("value", justify="right")
    for key, value in counts.items():
        table.add_row(key, str(value))
    console.print(table)


@app.command()
def backfill(
    source_id: Annotated[str, typer.Option("--source", help="Source id in sources.yaml.")],
    since: Annotated[str, typer.Option(help="First day (YYYY-MM-DD, UTC).")],
    until: Annotated[str, typer.Option(help="Last day, included (YYYY-MM-DD, UTC).")],
    sweep: Annotated[
        bool, typer.Option(help="Also record each day's feed coverage, as the daily sweep does.")
    ] = False,
) -> None:
    """Ingest what the source published in a date range (its sitemaps and feeds), one day
    at a time, as the Airflow backfill of its daily DAG does. Idempotent."""
    from news_ingest import pipeline
    from news_ingest.crawl.archive import Window
    from news_ingest.es import leases

    settings = get_settings()
    configure_logging()
    try:
        source = get_source(settings.config_dir, source_id)
        first, last = (datetime.fromisoformat(d).replace(tzinfo=UTC) for d in (since, until))
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    except ValueError:
        raise _fail("--since and --until are dates, YYYY-MM-DD") from None
    if last < first:
        raise _fail("--until is before --since")
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    es = _connect(settings, install=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    table = Table(title=f"backfill of {source.id}, {since} .. {until}")
    for column in ("day", "in sitemaps", "new", "indexed", "unchanged", "rejected"):
        table.add_column(column, justify="right")
    with _progress() as progress:
        overall = progress.add_task(f"{source.id}: days", total=len(days))
        pages = progress.add_task("pages", total=None)
        for day in days:
            progress.update(pages, description=f"{day:%Y-%m-%d}: planning", completed=0)

            def planned(count: int, day: datetime = day) -> None:
                progress.update(pages, description=f"{day:%Y-%m-%d}: fetching", total=count)

            try:
                counts = pipeline.run_once(
                    source,
                    source.feed_urls,
                    settings,
                    es,
                    run_id=f"backfill__{day:%Y%m%d}__{stamp}",
                    on_page=lambda: progress.advance(pages),
                    on_planned=planned,
                    window=Window(day, day + timedelta(days=1)),
                    sweep=sweep,
                )
            except (store.StoreUnavailable, leases.LeaseHeld, leases.LeaseLost) as exc:
                # The days before this one are done; running the backfill again redoes
                # only what is missing.
                raise _fail(str(exc)) from None
            progress.advance(overall)
            rejected = sum(v for k, v in counts.items() if k.startswith("rejected_"))
            table.add_row(
                f"{day:%Y-%m-%d}",
                *(str(counts.get(k, 0)) for k in ("sitemap_urls_in_window", "new", "indexed")),
                str(counts.get("unchanged", 0)),
                str(rejected),
            )
    console.print(table)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@app.command()
def history(
    url: Annotated[str, typer.Argument(help="The article's URL (any form that canonicalises).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """An article's versions: each edit with what changed and a word-level diff."""
    from news_ingest.es.history import article_history

    settings = get_settings()
    es = _connect(settings)
    try:
        article, revisions = article_history(es, indices.IndexNames(settings.index_prefix), url)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if article is None:
        raise _fail(f"no indexed article at {url}")
    if as_json:
        typer.echo(json.dumps({"article": article, "revisions": revisions}, ensure_ascii=False))
        return
    times = ("published_at", "updated_at", "first_seen_at", "fetched_at", "indexed_at")
    console.print(f"[bold]{article.get('title')}[/bold]  {article.get('url')}", highlight=False)
    console.print(
        "  ".join(f"{name}={article.get(name) or '-'}" for name in times)
        + f"  revision={article.get('revision', 0)} edited_at={article.get('edited_at') or '-'}",
        highlight=False,
    )
    if not revisions:
        console.print("never edited since it was first indexed")
    for revision in revisions:
        change = revision["changes"]
        console.print(
            f"\n[bold]revision {revision['revision']}[/bold] (indexed {revision['indexed_at']}, "
            f"replaced {revision['replaced_at']}): title "
            f"{'changed' if change['title_changed'] else 'unchanged'}, paragraphs "
            f"+{change['paragraphs_added']} -{change['paragraphs_removed']} "
            f"~{change['paragraphs_changed']}",
            highlight=False,
        )
        if change["title_changed"]:
            console.print(f"  was: {revision['title']}", highlight=False)
        console.print(change["diff"], highlight=False, markup=False)


@app.command()
def coverage(
    source: Annotated[str | None, typer.Option(help="Source id.")] = None,
    days: Annotated[int, typer.Option(min=1, help="How many days.")] = 14,
) -> None:
    """The daily sweep's feed coverage: the share of each day's sitemap articles that the
    feeds had brought in already (low: polling is too slow for the source)."""
    settings = get_settings()
    es = _connect(settings)
    rows = store.list_coverage(
        es, indices.IndexNames(settings.index_prefix), source=source, size=days
    )
    table = Table(title="feed coverage (daily sweep)")
    for column in ("day", "source", "sitemap", "from feeds", "swept in", "coverage"):
        table.add_column(column, justify="right")
    for row in rows:
        share = row.get("coverage")
        table.add_row(
            str(row["day"]),
            str(row["source"]),
            str(row["sitemap_articles"]),
            str(row["feed_articles"]),
            str(row["swept_articles"]),
            "-" if share is None else f"{share:.1%}",
        )
    console.print(table)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Free text; empty lists the newest.")] = "",
    source: Annotated[list[str] | None, typer.Option(help="Source id (repeatable).")] = None,
    language: Annotated[list[str] | None, typer.Option(help="Language code (repeatable).")] = None,
    topic: Annotated[list[str] | None, typer.Option(help="Topic id (repeatable).")] = None,
    watchlist: Annotated[list[str] | None, typer.Option(help="Watchlist id (repeatable).")] = None,
    since: Annotated[str | None, typer.Option(help="Published at or after (ISO, now-7d).")] = None,
    until: Annotated[
        str | None, typer.Option(help="Published at or before (a date: all day).")
    ] = None,
    sort: Annotated[str, typer.Option(help="relevance or date (newest first).")] = "relevance",
    page: Annotated[int, typer.Option(min=1)] = 1,
    size: Annotated[int, typer.Option(min=1, max=500)] = 10,
    collapse: Annotated[
        str | None, typer.Option(help="story: one hit per story, with its member count.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """Search articles: Arabic spelling variants and clitics fold alike; facets under the table."""
    from rich.text import Text

    from news_ingest.es.search import SearchRequest
    from news_ingest.es.search import search as run_search

    if sort not in ("relevance", "date"):
        raise _fail("--sort is relevance or date")
    if collapse not in (None, "story"):
        raise _fail("--collapse takes story")
    settings = get_settings()
    es = _connect(settings)
    request = SearchRequest(
        text=query,
        sources=tuple(source or ()),
        languages=tuple(language or ()),
        topics=tuple(topic or ()),
        watchlists=tuple(watchlist or ()),
        since=since,
        until=until,
        sort="date" if sort == "date" else "relevance",
        page=page,
        size=size,
        facets=not as_json,
        collapse="story" if collapse else None,
    )
    try:
        result = run_search(es, indices.IndexNames(settings.index_prefix), request)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(result.hits, ensure_ascii=False, indent=2))
        return
    unit = "story(ies)" if collapse else "result(s)"
    table = Table(title=f"{result.total} {unit} for {query!r}, page {page}", show_lines=True)
    columns = ["published_at", "source", "language", "topics", "title / snippet", "url"]
    for column in [*columns, *(["articles"] if collapse else [])]:
        table.add_column(column, overflow="fold")
    for hit in result.hits:
        cell = Text()
        for name in ("title", "body"):
            marked = hit["highlight"].get(name) or {"text": hit.get(name) or "", "spans": []}
            text = Text(marked["text"][:300], style="bold" if name == "title" else "")
            for start, end in marked["spans"]:
                text.stylize("reverse", start, end)
            cell.append_text(text)
            cell.append("\n" if name == "title" else "")
        table.add_row(
            str(hit.get("published_at") or ""),
            str(hit.get("source") or ""),
            str(hit.get("language") or ""),
            ", ".join(hit.get("topics") or []),
            cell,
            str(hit.get("url") or ""),
            *([_story_cell(hit["story"])] if collapse else []),
        )
    console.print(table)
    for name, buckets in result.facets.items():
        counts = ", ".join(f"{key} ({count})" for key, count in buckets)
        console.print(f"[bold]{name}:[/bold] {counts or '-'}", highlight=False)


def _story_cell(story: dict[str, Any]) -> str:
    """The member count and who else reported it (sources of the members shown)."""
    others = story["also_reported_by"]
    return f"{story['members']}" + (f"\nalso: {', '.join(others)}" if others else "")


@app.command()
def health(
    source: Annotated[list[str] | None, typer.Option(help="Only this source (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Feed health and extraction drift (the Feed health page's figures); exit 1 when flagged."""
    settings = get_settings()
    report = health_report(
        _connect(settings),
        indices.IndexNames(settings.index_prefix),
        datetime.now(UTC),
        Thresholds.of(settings),
        sources=source or (),
    )
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        _print_health(report)
    if report.flagged:
        raise typer.Exit(1)


def _print_health(report: HealthReport) -> None:
    feeds = Table(title=f"{len(report.feeds)} feed(s)")
    for column in ("feed", "source", "last poll", "HTTP", "24 h", "newest", "streak", "flags"):
        feeds.add_column(column, overflow="fold")
    for feed in report.feeds:
        feeds.add_row(
            feed.feed_url,
            feed.source,
            str(feed.polled_at or "never"),
            str(feed.last_status or "-"),
            str(feed.entries_24h),
            f"{_duration(feed.lag_seconds)} ago" if feed.newest_entry_at else "-",
            str(feed.failure_streak),
            "; ".join(feed.flags) or "ok",
        )
    console.print(feeds)
    sources = Table(title="extraction quality: last 24 h (7-day baseline)")
    for column in ("source", "pages", *SHARES, "mean words", "flags"):
        sources.add_column(column, overflow="fold")
    for row in report.sources:
        recent, baseline = row.recent, row.baseline
        sources.add_row(
            row.source,
            f"{recent.pages} ({baseline.pages})",
            *(
                f"{recent.shares.get(name, 0):.0%} ({baseline.shares.get(name, 0):.0%})"
                for name in SHARES
            ),
            f"{recent.mean_body_words or '-'} ({baseline.mean_body_words or '-'})",
            "; ".join(row.flags) or "ok",
        )
    console.print(sources)


@app.command()
def reindex(
    drop_old: Annotated[
        bool, typer.Option("--drop-old", help="Then delete the generations left behind.")
    ] = False,
    migrate: Annotated[
        bool, typer.Option(help="--no-migrate with --drop-old: only delete old generations.")
    ] = True,
) -> None:
    """Move articles to a new index generation from the current template; swap the alias."""
    from news_ingest.es import reindex as migration

    settings = get_settings()
    es = _connect(settings, install=True)
    names = indices.IndexNames(settings.index_prefix)
    if migrate:
        try:
            result = migration.reindex(es, names, drop_old=drop_old)
        except migration.ReindexError as exc:
            raise _fail(str(exc)) from None
        typer.echo(
            f"{names.articles}: {result.source} -> {result.target} "
            f"({result.copied} article(s) copied by {result.method})"
        )
        dropped = result.dropped
    elif drop_old:
        dropped = migration.drop_old_generations(es, names)
    else:
        raise _fail("nothing to do: --no-migrate needs --drop-old")
    if dropped:
        typer.echo(f"dropped: {', '.join(dropped)}")
    elif not drop_old:
        typer.echo("old generation kept; `news-ingest reindex --drop-old --no-migrate` deletes it")


@app.command()
def rejects(
    source_id: Annotated[str | None, typer.Option("--source")] = None,
    size: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List URLs that runs skipped, with the reason (newest first)."""
    settings = get_settings()
    es = _connect(settings)
    rows = store.list_rejects(
        es, indices.IndexNames(settings.index_prefix), source=source_id, size=size
    )
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{len(rows)} reject(s)")
    for column in ("last_seen_at", "source", "stage", "reason", "url", "detail"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            *(
                str(row.get(c) or "")
                for c in ("last_seen_at", "source", "stage", "reason", "url", "detail")
            )
        )
    console.print(table)


@app.command()
def setup() -> None:
    """Create index templates and indices (idempotent), seed watchlists from the YAML."""
    from news_ingest.alerting import watchlist_store

    settings = get_settings()
    es = _connect(settings)
    variant = indices.install(es, settings.index_prefix)
    names = indices.IndexNames(settings.index_prefix)
    seeded = watchlist_store.seed(es, names, settings.config_dir)
    typer.echo(f"indices ready under prefix '{settings.index_prefix}' (analysis: {variant})")
    if seeded:
        typer.echo(f"watchlists seeded from watchlists.yaml: {', '.join(seeded)}")


def _watchlists(settings: Settings) -> tuple[Any, indices.IndexNames]:
    """A client and the index names. Only where the watchlists index is missing are indices
    installed and the YAML seeded: analysts' roles may read and add versions, not install."""
    from news_ingest.alerting import watchlist_store

    es = _connect(settings)
    names = indices.IndexNames(settings.index_prefix)
    if not es.indices.exists(index=names.watchlists):
        indices.install(es, settings.index_prefix)
        watchlist_store.seed(es, names, settings.config_dir)
    return es, names


def _watchlist(settings: Settings, watchlist_id: str) -> Any:
    """The version in force of one watchlist (a StoredVersion)."""
    from news_ingest.alerting import watchlist_store

    es, names = _watchlists(settings)
    return watchlist_store.get(es, names, watchlist_id)


By = Annotated[str | None, typer.Option("--by", help="Who makes the change (default: $USER).")]
Note = Annotated[str, typer.Option("--note", help="Why: kept with the version.")]
Phrases = Annotated[
    list[str] | None, typer.Option(help="LANG:PHRASE, e.g. ar:كاراباغ (repeatable).")
]


@watchlist_app.command("list")
def watchlist_list() -> None:
    """Every watchlist, its version in force and its last change."""
    from news_ingest.alerting import watchlist_store

    es, names = _watchlists(get_settings())
    table = Table(title=f"watchlists in {names.watchlists}")
    for column in ("id", "version", "state", "severity", "terms", "names", "changed", "change"):
        table.add_column(column)
    for stored in watchlist_store.current(es, names):
        watchlist = stored.watchlist
        table.add_row(
            watchlist.id,
            str(stored.version),
            "disabled" if stored.disabled else "enabled",
            watchlist.severity,
            str(sum(map(len, watchlist.terms.values()))),
            str(sum(map(len, watchlist.names.values()))),
            f"{stored.changed_at[:19]} by {stored.changed_by}",
            stored.change,
        )
    console.print(table)


@watchlist_app.command("show")
def watchlist_show(
    watchlist_id: str,
    version: Annotated[int | None, typer.Option(help="An older version.")] = None,
) -> None:
    """A watchlist as YAML (the version in force, or --version N) and its history."""
    import yaml

    from news_ingest.alerting import watchlist_store

    es, names = _watchlists(get_settings())
    versions = watchlist_store.history(es, names, watchlist_id)
    if not versions:
        watchlist_store.get(es, names, watchlist_id)  # raises the error naming known ids
    chosen = next((v for v in versions if v.version == version), None) if version else versions[-1]
    if chosen is None:
        raise _fail(f"watchlist '{watchlist_id}' has no version {version}")
    state = "disabled" if chosen.disabled else "enabled"
    typer.echo(f"# {watchlist_id} version {chosen.version} ({state})")
    typer.echo(yaml.safe_dump(chosen.definition, allow_unicode=True, sort_keys=False).rstrip())
    typer.echo("# history:")
    for stored in versions:
        when = f"{stored.changed_at[:19]} by {stored.changed_by}"
        typer.echo(f"#   v{stored.version} {when}: {stored.change}")


def _parse_phrases(values: list[str] | None, option: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values or []:
        language, sep, phrase = value.partition(":")
        if not sep or not phrase.strip():
            raise ConfigError(f"{option} {value!r}: expected LANG:PHRASE, e.g. ar:كاراباغ")
        pairs.append((language.strip(), phrase.strip()))
    return pairs


@watchlist_app.command("add")
def watchlist_add(
    file: Annotated[
        Path, typer.Option("--file", help="YAML: one watchlist entry, as in watchlists.yaml.")
    ],
    by: By = None,
    note: Note = "",
) -> None:
    """Add a watchlist; it is validated like watchlists.yaml and stored as version 1."""
    from news_ingest.alerting import watchlist_store

    es, names = _watchlists(get_settings())
    definition = watchlist_store.read_definition_file(file)
    if watchlist_store.history(es, names, str(definition.get("id"))):
        raise ConfigError(f"{file}: watchlist '{definition.get('id')}' exists; use edit")
    stored = watchlist_store.change(
        es,
        names,
        definition,
        where=f"{file}: watchlist",
        changed_by=by or watchlist_store.current_user(),
        note=note,
    )
    typer.echo(f"watchlist {stored.watchlist.id} version {stored.version}: {stored.change}")


@watchlist_app.command("edit")
def watchlist_edit(
    watchlist_id: str,
    file: Annotated[Path | None, typer.Option("--file", help="YAML: the whole new entry.")] = None,
    add_term: Phrases = None,
    add_name: Phrases = None,
    add_exclusion: Phrases = None,
    remove: Annotated[
        list[str] | None,
        typer.Option(help="LANG:PHRASE to remove from terms, names and exclusions."),
    ] = None,
    severity: Annotated[str | None, typer.Option(help="low, medium, high or critical.")] = None,
    enable: Annotated[bool, typer.Option("--enable", help="Enable a disabled watchlist.")] = False,
    by: By = None,
    note: Note = "",
) -> None:
    """Change a watchlist: a new version, validated like watchlists.yaml; the next run uses it."""
    from news_ingest.alerting import watchlist_store

    es, names = _watchlists(get_settings())
    last = watchlist_store.get(es, names, watchlist_id)
    if file is not None:
        definition = watchlist_store.read_definition_file(file)
        where = f"{file}: watchlist"
    else:
        definition = last.definition
        where = f"watchlist edit {watchlist_id}"
    for field, values in (("terms", add_term), ("names", add_name), ("exclusions", add_exclusion)):
        for language, phrase in _parse_phrases(values, f"--add-{field.rstrip('s')}"):
            group = {key: list(value) for key, value in definition.get(field, {}).items()}
            group.setdefault(language, []).append(phrase)
            definition = {**definition, field: group}
    for language, phrase in _parse_phrases(remove, "--remove"):
        found = False
        for field in ("terms", "names", "exclusions"):
            group = {key: list(value) for key, value in definition.get(field, {}).items()}
            if phrase in group.get(language, []):
                group[language].remove(phrase)
                definition = {**definition, field: {k: v for k, v in group.items() if v}}
                found = True
        if not found:
            raise ConfigError(f"--remove {language}:{phrase}: not in watchlist '{watchlist_id}'")
    if severity is not None:
        definition = {**definition, "severity": severity}
    if definition.get("id") != watchlist_id:
        raise ConfigError(f"{where}: the id is '{definition.get('id')}', expected '{watchlist_id}'")
    stored = watchlist_store.change(
        es,
        names,
        definition,
        where=where,
        changed_by=by or watchlist_store.current_user(),
        note=note,
        disabled=False if enable else None,
    )
    typer.echo(f"watchlist {watchlist_id} version {stored.version}: {stored.change}")


@watchlist_app.command("disable")
def watchlist_disable(watchlist_id: str, by: By = None, note: Note = "") -> None:
    """Stop alerting on a watchlist from the next run on (a new version; edit --enable undoes)."""
    from news_ingest.alerting import watchlist_store

    es, names = _watchlists(get_settings())
    last = watchlist_store.get(es, names, watchlist_id)
    stored = watchlist_store.change(
        es,
        names,
        last.definition,
        where=f"watchlist disable {watchlist_id}",
        changed_by=by or watchlist_store.current_user(),
        note=note,
        disabled=True,
    )
    typer.echo(f"watchlist {watchlist_id} version {stored.version}: {stored.change}")


@watchlist_app.command("test")
def watchlist_test(watchlist_id: str, text: str) -> None:
    """Show whether and why TEXT matches the watchlist (exit 1 when it does not)."""
    from news_ingest.text.watchlists import explain_match

    stored = _watchlist(get_settings(), watchlist_id)
    explanation = explain_match(stored.watchlist, text)
    typer.echo(f"(version {stored.version}{', disabled' if stored.disabled else ''})")
    typer.echo(explanation.render())
    if not explanation.matched:
        raise typer.Exit(1)


@alerts_app.callback(invoke_without_command=True)
def alerts_list(
    ctx: typer.Context,
    watchlist: Annotated[str | None, typer.Option(help="Only this watchlist id.")] = None,
    since: Annotated[str | None, typer.Option(help="Alerted at or after (ISO date).")] = None,
    size: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List alerts, newest first, with the pipeline's delay for each."""
    if ctx.invoked_subcommand is not None:
        return
    from news_ingest.alerting.alerts import list_alerts

    settings = get_settings()
    es = _connect(settings)
    rows = list_alerts(
        es, indices.IndexNames(settings.index_prefix), watchlist=watchlist, since=since, size=size
    )
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{len(rows)} alert(s)")
    columns = (
        "alerted_at",
        "watchlist",
        "severity",
        "title",
        "matched",
        "delay",
        "notified",
        "story: articles, also reported by",
    )
    for column in columns:
        table.add_column(column)
    for row in rows:
        delay = row.get("latency_published_seconds")
        seen = row.get("latency_first_seen_seconds")
        fetched = row.get("latency_fetched_seconds")
        table.add_row(
            str(row.get("alerted_at")),
            str(row.get("watchlist")),
            str(row.get("severity")),
            (f"edited, revision {row.get('revision')}: " if row.get("kind") == "edited" else "")
            + str(row.get("title")),
            ", ".join(row.get("surface_forms") or []),
            f"published+{_duration(delay)} / seen+{_duration(seen)} / fetched+{_duration(fetched)}",
            "yes"
            if row.get("notified")
            else f"no ({row.get('state') or 'pending'}): {row.get('notify_error') or '-'}",
            f"{row.get('members') or 1}: " + ", ".join(row.get("also_reported_by") or []),
        )
    console.print(table)


@alerts_app.command("backfill")
def alerts_backfill(
    watchlist_id: Annotated[str, typer.Option("--watchlist", help="Watchlist id to run.")],
) -> None:
    """Run a new or changed watchlist (its version in force) over every article indexed.

    One alert per (article, watchlist): articles that already alerted on an earlier version
    are not alerted again."""
    from news_ingest import pipeline
    from news_ingest.alerting import alerts, watchlist_store

    settings = get_settings()
    stored = _watchlist(settings, watchlist_id)
    if stored.disabled:
        raise _fail(f"watchlist '{watchlist_id}' is disabled; enable it with edit --enable")
    active = [watchlist_store.Active(stored.watchlist, stored.version)]
    es = _connect(settings, install=True)
    names = indices.IndexNames(settings.index_prefix)
    now = datetime.now(UTC)

    def store_for(articles: list[dict[str, Any]]) -> int:
        found = [
            alerts.stamped(alert, now)
            for article in articles
            for alert in alerts.alerts_for(active, article)
        ]
        return len(alerts.store_alerts(es, names, found))

    scanned = created = 0
    batch: list[dict[str, Any]] = []
    for article in alerts.scan_articles(es, names):
        scanned += 1
        batch.append(article)
        if len(batch) >= 500:
            created += store_for(batch)
            batch = []
    created += store_for(batch)
    delivery = pipeline.notify_pending(settings, es)
    typer.echo(
        f"watchlist {watchlist_id} version {stored.version}: scanned {scanned} article(s); "
        f"{created} new alert(s); delivery: {delivery}"
    )


@app.command()
def local(port: Annotated[int, typer.Option(help="Airflow API server / UI port.")] = 8080) -> None:
    """Local mode: start the local node if needed, set up indices, run `airflow standalone`."""
    from news_ingest.local import localmode

    settings = get_settings()
    if not settings.es_url:
        es_start()
    setup()
    localmode.exec_standalone(settings.state_dir / "airflow", port, settings.airflow_parallelism)


@app.command()
def demo(port: Annotated[int, typer.Option(help="Airflow API server / UI port.")] = 8080) -> None:
    """`make demo`: local mode plus a news site on 127.0.0.1 and its demo_sputnik source."""
    from news_ingest.local import demo as demo_mode

    settings = get_settings()
    if not settings.es_url:
        es_start()
    es = _connect(settings)
    # Each start serves the site on a new port, so its URLs (and article ids) are new:
    # the last demo's indices would only double every article.
    indices.drop_all(es, demo_mode.INDEX_PREFIX)
    indices.install(es, demo_mode.INDEX_PREFIX)
    raise typer.Exit(demo_mode.run(settings.state_dir, port, settings.airflow_parallelism))


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        console.print(f"[red]config error:[/red] {exc}", highlight=False)
        raise SystemExit(2) from None
    except NotFoundError as exc:
        console.print(
            f"[red]error:[/red] {exc.message}: no index yet under this prefix; "
            "run `news-ingest setup` or a first `news-ingest run`",
            highlight=False,
        )
        raise SystemExit(2) from None
