"""The ``autolog`` command line: browse runs and experiments, check integrations, run a demo.

::

    autolog [--tracking-uri URI] runs list [--experiment NAME] [--limit N]
    autolog [--tracking-uri URI] runs show RUN_ID
    autolog [--tracking-uri URI] experiments list
    autolog status
    autolog [--tracking-uri URI] demo

The store is ``--tracking-uri``, else ``AUTOLOG_TRACKING_URI``, else ``./autolog-runs``.
Exit status: 0 on success, 1 when something is not found or fails (one line on stderr, no
traceback; set ``AUTOLOG_DEBUG=1`` to get the traceback), 2 for a command-line usage error.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

__all__ = ["main"]

_STATUS_STYLE = {"FINISHED": "green", "RUNNING": "yellow", "FAILED": "red", "KILLED": "magenta"}
# child runs shown under a run in `runs show`; a search can have thousands
_MAX_TREE_NODES = 200


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


# --------------------------------------------------------------------------- formatting


def _time(value: Any) -> str:
    """A run time (ms since the epoch, datetime or pandas Timestamp) as local 'Y-m-d H:M:S'."""
    if value is None:
        return "-"
    try:
        if isinstance(value, (int, float)):
            if isinstance(value, float) and math.isnan(value):
                return "-"
            dt = datetime.fromtimestamp(value / 1000, timezone.utc)
        else:
            if hasattr(value, "to_pydatetime"):
                if str(value) == "NaT":
                    return "-"
                value = value.to_pydatetime()
            dt = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return dt.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError, OverflowError, AttributeError):
        return str(value)


def _millis(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return None if isinstance(value, float) and math.isnan(value) else float(value)
    if hasattr(value, "timestamp"):
        try:
            if str(value) == "NaT":
                return None
            return value.timestamp() * 1000
        except (TypeError, ValueError):
            return None
    return None


def _duration(start: Any, end: Any) -> str:
    s, e = _millis(start), _millis(end)
    if s is None or e is None:
        return "-"
    seconds = max(0.0, (e - s) / 1000)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def _number(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.6g}"
    return str(value)


def _status(status: Any) -> str:
    text = str(status)
    style = _STATUS_STYLE.get(text)
    return f"[{style}]{text}[/{style}]" if style else text


def _escape(text: Any) -> str:
    from rich.markup import escape

    return escape(str(text))


def _console(stream: Any) -> Console:
    from rich.console import Console

    width = None
    if not (hasattr(stream, "isatty") and stream.isatty()):
        # Piped or captured output: rich would assume 80 columns and fold run ids.
        try:
            width = int(os.environ.get("COLUMNS", "")) or 160
        except ValueError:
            width = 160
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


# --------------------------------------------------------------------------- commands


def _require_store() -> None:
    """Refuse to browse a store directory that does not exist (opening it would create it)."""
    import autolog

    uri = autolog.get_tracking_uri()
    if uri.startswith("memory:"):
        return
    if uri.startswith("file:"):
        from urllib.parse import unquote, urlparse
        from urllib.request import url2pathname

        path = url2pathname(unquote(urlparse(uri).path))
    elif "://" in uri:
        return  # a remote store: let it answer
    else:
        path = uri
    if not os.path.isdir(path):
        raise CommandError(
            f"no autolog store at {uri} (choose one with --tracking-uri or AUTOLOG_TRACKING_URI)"
        )


def _cmd_runs_list(args: argparse.Namespace, console: Console) -> int:
    import autolog

    _require_store()

    experiment = args.experiment
    if experiment is not None and experiment not in _experiment_names():
        raise CommandError(f"no experiment named {experiment!r}")
    df = autolog.search_runs(
        experiment=experiment if experiment is not None else "*",
        order_by=["start_time DESC"],
        max_results=args.limit,
    )
    _print_runs_table(console, df, show_experiment=experiment is None)
    return 0


def _print_runs_table(
    console: Console, df: Any, *, show_experiment: bool, title: str = "Runs"
) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("Run ID", no_wrap=True, style="cyan")
    table.add_column("Name")
    if show_experiment:
        table.add_column("Experiment")
    table.add_column("Status", no_wrap=True)
    table.add_column("Started", no_wrap=True)
    table.add_column("Duration", justify="right", no_wrap=True)
    table.add_column("Parent", no_wrap=True, style="dim")
    columns = set(df.columns)
    for rec, depth in _nest([dict(zip(df.columns, row)) for row in df.itertuples(index=False)]):
        parent = rec.get("parent_run_id")
        name = _escape(_blank(rec.get("name")))
        if depth:
            name = "  " * (depth - 1) + "[dim]└[/dim] " + name
        cells = [str(rec.get("run_id")), name]
        if show_experiment:
            cells.append(_escape(_blank(rec.get("experiment")) if "experiment" in columns else "-"))
        cells += [
            _status(rec.get("status")),
            _time(rec.get("start_time")),
            _duration(rec.get("start_time"), rec.get("end_time")),
            str(parent)[:8] if _present(parent) else "",
        ]
        table.add_row(*cells)
    table.caption = f"{len(df)} run{'s' if len(df) != 1 else ''}"
    table.caption_justify = "left"
    console.print(table)


def _nest(records: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
    """Rows in display order with their depth: each child right below its parent (when the
    parent is listed too), siblings oldest first; top-level rows keep their given order."""
    ids = {str(r.get("run_id")) for r in records}
    children: dict[str, list[dict[str, Any]]] = {}
    tops = []
    for rec in records:
        parent = rec.get("parent_run_id")
        if _present(parent) and str(parent) in ids:
            children.setdefault(str(parent), []).append(rec)
        else:
            tops.append(rec)
    out: list[tuple[dict[str, Any], int]] = []

    def emit(rec: dict[str, Any], depth: int) -> None:
        out.append((rec, depth))
        kids = children.get(str(rec.get("run_id")), [])
        kids.sort(key=lambda r: (_millis(r.get("start_time")) or 0, _natural(r.get("name"))))
        for kid in kids:
            emit(kid, depth + 1)

    for rec in tops:
        emit(rec, 0)
    return out


def _natural(value: Any) -> tuple[Any, ...]:
    """Sort key that puts 'candidate 2' before 'candidate 10'."""
    import re

    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(value or "")))


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return str(value) not in ("", "None", "nan", "<NA>")


def _blank(value: Any) -> str:
    return str(value) if _present(value) else "-"


def _experiment_names() -> list[str]:
    import autolog

    return [_field(e, "name") for e in autolog.list_experiments()]


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(name)
    if isinstance(obj, str):
        return obj if name == "name" else None
    return getattr(obj, name, None)


def _find_run(run_id: str) -> Any:
    """The run with id ``run_id``, or the only run whose id starts with it."""
    import autolog

    try:
        return autolog.get_run(run_id)
    except LookupError:
        pass
    if len(run_id) >= 4:
        df = autolog.search_runs(experiment="*")
        matches = [r for r in df["run_id"].astype(str) if r.startswith(run_id)] if len(df) else []
        if len(matches) == 1:
            return autolog.get_run(matches[0])
        if len(matches) > 1:
            raise CommandError(
                f"run id prefix {run_id!r} is ambiguous: matches {', '.join(matches[:5])}"
                + (" ..." if len(matches) > 5 else "")
            )
    raise CommandError(f"no run with id {run_id!r} in {autolog.get_tracking_uri()}")


def _cmd_runs_show(args: argparse.Namespace, console: Console) -> int:
    _require_store()
    run = _find_run(args.run_id)
    _print_run(console, run)
    return 0


def _print_run(console: Console, run: Any) -> None:
    from rich.table import Table

    overview = Table.grid(padding=(0, 2))
    overview.add_column(style="bold")
    overview.add_column()
    overview.add_row("Run", f"[cyan]{run.id}[/cyan]")
    overview.add_row("Name", _escape(_blank(run.name)))
    overview.add_row("Experiment", _escape(run.experiment))
    overview.add_row("Status", _status(run.status))
    if run.parent_id:
        overview.add_row("Parent", str(run.parent_id))
    overview.add_row("Started", _time(run.start_time))
    overview.add_row("Ended", _time(run.end_time))
    overview.add_row("Duration", _duration(run.start_time, run.end_time))
    console.print(overview)

    _print_mapping(console, "Params", run.params)
    _print_mapping(console, "Metrics", run.metrics, numeric=True)
    _print_mapping(console, "Tags", run.tags)

    artifacts = list(run.artifacts)
    console.print()
    if artifacts:
        console.print(_artifact_tree(artifacts))
    else:
        console.print("[bold]Artifacts[/bold]: none")

    _print_models(console, run, artifacts)

    children = run.children()
    console.print()
    if children:
        console.print(_run_tree(run, children))
    else:
        console.print("[bold]Child runs[/bold]: none")


def _print_models(console: Console, run: Any, artifacts: list[str]) -> None:
    """One line per logged model: its URI, flavor, class and signature."""
    from pathlib import Path

    from autolog._models import METADATA_FILE, Signature, read_metadata

    suffix = "/" + METADATA_FILE
    paths = [a[: -len(suffix)] for a in artifacts if a.endswith(suffix)]
    if not paths:
        return
    from rich.table import Table

    table = Table(title="Models", title_justify="left", title_style="bold")
    table.add_column("URI", style="cyan", no_wrap=True)
    table.add_column("Flavor", no_wrap=True)
    table.add_column("Class")
    table.add_column("Signature", overflow="fold")
    for rel in paths:
        uri = f"runs:/{run.id}/{rel}"
        try:
            meta = read_metadata(Path(run.artifact_dir) / rel)
            sig = Signature.from_dict(meta["signature"]) if meta.get("signature") else None
        except Exception as exc:  # noqa: BLE001 - one broken model must not hide the run
            table.add_row(uri, "?", "-", f"unreadable: {_escape(exc)}")
            continue
        flavor = str(meta.get("flavor"))
        if meta.get("framework_version"):
            flavor += f" ({meta.get('framework')} {meta['framework_version']})"
        model_class = str(meta.get("model_class") or "-").rsplit(".", 1)[-1]
        table.add_row(
            uri,
            _escape(flavor),
            _escape(model_class),
            _escape(str(sig).replace("\n", "; ")) if sig is not None else "-",
        )
    console.print()
    console.print(table)


def _print_mapping(
    console: Console, title: str, data: dict[str, Any], *, numeric: bool = False
) -> None:
    from rich.table import Table

    console.print()
    if not data:
        console.print(f"[bold]{title}[/bold]: none")
        return
    table = Table(title=title, title_justify="left", title_style="bold")
    table.add_column("Key", style="cyan", no_wrap=True)
    table.add_column("Value", justify="right" if numeric else "left", overflow="fold")
    for key in sorted(data):
        value = data[key]
        table.add_row(_escape(key), _number(value) if numeric else _escape(value))
    console.print(table)


def _artifact_tree(paths: Iterable[str]) -> Any:
    from rich.tree import Tree

    root = Tree("[bold]Artifacts[/bold]")
    nodes: dict[tuple[str, ...], Any] = {(): root}
    for path in sorted(paths):
        parts = tuple(path.split("/"))
        for i in range(1, len(parts) + 1):
            key = parts[:i]
            if key not in nodes:
                label = _escape(parts[i - 1]) + ("/" if i < len(parts) else "")
                nodes[key] = nodes[key[:-1]].add(label)
    return root


def _run_label(run: Any, *, params: bool = True) -> str:
    label = f"[cyan]{run.id}[/cyan] {_escape(_blank(run.name))} {_status(run.status)}"
    if params:
        bits = []
        p = run.params
        bits += [f"{_escape(k)}={_escape(_short(v))}" for k, v in list(sorted(p.items()))[:4]]
        if len(p) > 4:
            bits.append("…")
        m = run.metrics
        # test/validation scores say most about a candidate; timings least
        ranked = sorted(m, key=lambda k: ("test" not in k and "val" not in k, "time" in k, k))
        bits += [f"{_escape(k)}={_number(m[k])}" for k in ranked[:3]]
        if len(m) > 3:
            bits.append("…")
        if bits:
            label += "  [dim]" + "  ".join(bits) + "[/dim]"
    return label


def _short(value: Any, limit: int = 30) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _run_tree(run: Any, children: list[Any]) -> Any:
    from rich.tree import Tree

    root = Tree(f"[bold]Child runs[/bold] of {_run_label(run, params=False)}")
    budget = [_MAX_TREE_NODES]

    def add(node: Any, kids: list[Any]) -> None:
        kids = sorted(kids, key=lambda r: (r.start_time or 0, _natural(r.name)))
        for i, child in enumerate(kids):
            if budget[0] <= 0:
                node.add(f"[dim]… {len(kids) - i} more[/dim]")
                return
            budget[0] -= 1
            sub = node.add(_run_label(child))
            grandchildren = child.children()
            if grandchildren:
                add(sub, grandchildren)

    add(root, children)
    return root


def _cmd_experiments_list(args: argparse.Namespace, console: Console) -> int:
    import autolog
    from rich.table import Table

    _require_store()
    experiments = list(autolog.list_experiments())
    counts: dict[str, int] = {}
    df = autolog.search_runs(experiment="*")
    if len(df) and "experiment" in df.columns:
        counts = {str(k): int(v) for k, v in df["experiment"].value_counts().items()}
    table = Table(title="Experiments", title_justify="left")
    table.add_column("ID", no_wrap=True, style="dim")
    table.add_column("Name", style="cyan")
    table.add_column("Created", no_wrap=True)
    table.add_column("Runs", justify="right")
    for exp in experiments:
        name = _field(exp, "name")
        table.add_row(
            _escape(_blank(_field(exp, "experiment_id"))),
            _escape(name),
            _time(_field(exp, "creation_time")),
            str(counts.get(str(name), 0)),
        )
    console.print(table)
    return 0


def _records(data: Any) -> list[dict[str, Any]]:
    """Turn whatever autolog.status() returns into a list of flat dicts (one per integration)."""
    if isinstance(data, dict):
        rows = []
        for name, value in data.items():
            rec = _as_dict(value)
            rows.append({"name": name, **rec} if "name" not in rec else rec)
        return rows
    return [_as_dict(item) for item in data]


def _as_dict(value: Any) -> dict[str, Any]:
    import dataclasses

    if isinstance(value, dict):
        return dict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "_asdict"):
        return dict(value._asdict())
    if hasattr(value, "__dict__"):
        return {k: v for k, v in vars(value).items() if not k.startswith("_")}
    return {"status": value}


def _cmd_status(args: argparse.Namespace, console: Console) -> int:
    import autolog
    from rich.table import Table

    try:
        status_fn = autolog.status
    except (ImportError, AttributeError) as exc:
        raise CommandError(f"integration status is not available in this build ({exc})") from exc
    rows = _records(status_fn())
    table = Table(title="Integrations", title_justify="left")
    columns: list[str] = []
    for rec in rows:
        columns += [k for k in rec if k not in columns]
    for col in columns:
        table.add_column(col.replace("_", " ").capitalize(), overflow="fold")
    for rec in rows:
        table.add_row(*(_escape(_cell(rec.get(col))) for col in columns))
    table.caption = (
        "States are this process's: the command line does not call autolog.autolog(), so "
        "integrations your programs enable show as disabled or pending here."
        if rows
        else "no integrations known"
    )
    table.caption_justify = "left"
    console.print(table)
    return 0


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(str(v) for v in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value)


def _cmd_demo(args: argparse.Namespace, console: Console) -> int:
    import autolog

    if args.tracking_uri is None:
        # Make the store explicit so the printed location is the one used.
        autolog.set_tracking_uri(os.environ.get("AUTOLOG_TRACKING_URI") or "autolog-runs")
    console.print(f"[bold]autolog demo[/bold] — store: {_escape(autolog.get_tracking_uri())}")
    try:
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import GridSearchCV
    except ImportError as exc:
        raise CommandError(
            f"the demo needs scikit-learn: pip install 'autolog[sklearn]' ({exc})"
        ) from exc

    autolog.set_experiment("autolog-demo")
    autolog.autolog()
    try:
        X, y = load_iris(return_X_y=True, as_frame=True)

        console.print("\n1. LogisticRegression on iris")
        model = LogisticRegression(max_iter=1000).fit(X, y)
        run = autolog.last_run()
        if run is None:
            raise CommandError("no run was recorded: is the scikit-learn integration enabled?")
        console.print(f"   run [cyan]{run.id}[/cyan]")

        console.print("2. GridSearchCV over C (3 candidates, cv=3): a parent run with child runs")
        GridSearchCV(LogisticRegression(max_iter=1000), {"C": [0.1, 1.0, 10.0]}, cv=3).fit(X, y)
        search_run = autolog.last_run()
        if search_run is None or search_run.id == run.id:
            raise CommandError("the grid search did not record a run")
        console.print(f"   run [cyan]{search_run.id}[/cyan]")
        autolog.flush()

        console.print("3. Load the logged model back and compare predictions")
        uri = _model_uri(run)
        loaded = autolog.load_model(uri)
        equal = bool((loaded.predict(X) == model.predict(X)).all())
        console.print(f"   {uri}: predictions equal: [{'green' if equal else 'red'}]{equal}[/]")
        predictor = autolog.load_predictor(uri)
        try:
            predictor.predict(X.drop(columns=[X.columns[0]]))
        except autolog.SchemaMismatchError as exc:
            console.print(f"   a predictor refuses bad input: [dim]{_escape(exc)}[/dim]")
    finally:
        autolog.disable()

    console.print()
    _print_runs_table(
        console,
        autolog.search_runs(
            experiment="autolog-demo", order_by=["start_time DESC"], max_results=10
        ),
        show_experiment=False,
        title="Runs in experiment 'autolog-demo' (autolog runs list --experiment autolog-demo)",
    )
    console.print(f"\n[bold]autolog runs show {search_run.id}[/bold]")
    _print_run(console, search_run)
    return 0 if equal else 1


def _model_uri(run: Any) -> str:
    """``runs:/<id>/model``, or the first logged model directory if it lives elsewhere."""
    from autolog._models import METADATA_FILE

    artifacts = list(run.artifacts)
    if f"model/{METADATA_FILE}" in artifacts:
        return f"runs:/{run.id}/model"
    for path in artifacts:
        if path.endswith("/" + METADATA_FILE):
            return f"runs:/{run.id}/{path[: -len(METADATA_FILE) - 1]}"
    listed = ", ".join(artifacts) or "none"
    raise CommandError(f"run {run.id} has no logged model (artifacts: {listed})")


# --------------------------------------------------------------------------- parsing


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autolog",
        description="Browse runs recorded by autolog, check integrations, run a demo.",
        epilog="Store: --tracking-uri, else $AUTOLOG_TRACKING_URI, else ./autolog-runs.",
    )
    parser.add_argument(
        "--tracking-uri", metavar="URI", help="store directory, file:// URL or 'memory:'"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    runs = sub.add_parser("runs", help="list runs or show one")
    runs_sub = runs.add_subparsers(dest="runs_command", metavar="SUBCOMMAND")
    p = runs_sub.add_parser("list", help="runs, newest first")
    p.add_argument("--experiment", "-e", metavar="NAME", help="only this experiment (default: all)")
    p.add_argument(
        "--limit", "-n", type=_positive_int, default=50, metavar="N",
        help="at most N runs (default 50)",
    )
    p.set_defaults(func=_cmd_runs_list)
    p = runs_sub.add_parser("show", help="params, metrics, tags, artifacts and child runs of a run")
    p.add_argument(
        "run_id", metavar="RUN_ID", help="run id (or a unique prefix of at least 4 characters)"
    )
    p.set_defaults(func=_cmd_runs_show)

    experiments = sub.add_parser("experiments", help="list experiments")
    exp_sub = experiments.add_subparsers(dest="experiments_command", metavar="SUBCOMMAND")
    p = exp_sub.add_parser("list", help="experiments with their run counts")
    p.set_defaults(func=_cmd_experiments_list)

    p = sub.add_parser("status", help="which integrations are installed, enabled and patched")
    p.set_defaults(func=_cmd_status)
    p = sub.add_parser(
        "demo", help="train scikit-learn models with autolog on, load one back, show the runs"
    )
    p.set_defaults(func=_cmd_demo)

    # `autolog runs` without a subcommand prints that group's help
    runs.set_defaults(func=None, group=runs)
    experiments.set_defaults(func=None, group=experiments)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    Never raises: errors print one line to stderr and give 1 (set ``AUTOLOG_DEBUG=1`` to see the
    traceback instead); usage errors give 2.
    """
    parser = _parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    if getattr(args, "func", None) is None:
        group = getattr(args, "group", None) or parser
        group.print_help(sys.stderr)
        return 2
    console = _console(sys.stdout)
    try:
        if args.tracking_uri is not None:
            import autolog

            autolog.set_tracking_uri(args.tracking_uri)
        return int(args.func(args, console) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `autolog runs list | head`
        return 0
    except Exception as exc:  # noqa: BLE001 - the CLI reports, it does not crash
        if os.environ.get("AUTOLOG_DEBUG"):
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if not isinstance(exc, CommandError):
            message = f"{type(exc).__name__}: {message}"
        print(f"autolog: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
