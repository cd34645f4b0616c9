"""``search_runs`` filter strings and ``order_by`` clauses, translated to SQL.

Grammar (case-insensitive keywords)::

    filter     := comparison ("AND" comparison)*
    comparison := identifier operator value
    identifier := entity "." key | attribute
    entity     := params | param | metrics | metric | tags | tag | attributes | attribute | attr
    key        := bare_key | `backquoted key` | "double-quoted key"
    operator   := = | == | != | <> | < | <= | > | >= | LIKE | ILIKE | NOT LIKE
    value      := 'string' | "string" | number

Metrics and ``start_time``/``end_time`` compare numerically; params, tags and the other
attributes compare as strings (``LIKE`` is case-sensitive, ``ILIKE`` is not). A comparison on a
key the run lacks is false, so ``params.x != 'a'`` does not match runs without ``x``.
"""

from __future__ import annotations

import gc
import json
import re
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

from autolog._errors import MalformedFilterError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

_ENTITIES = {
    "params": "param",
    "param": "param",
    "metrics": "metric",
    "metric": "metric",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
    "run": "attribute",
}
# attribute name -> (SQL column, numeric?)
_ATTRIBUTES = {
    "status": ("r.status", False),
    "name": ("r.name", False),
    "run_name": ("r.name", False),
    "run_id": ("r.run_id", False),
    "parent_run_id": ("r.parent_run_id", False),
    "start_time": ("r.start_time", True),
    "end_time": ("r.end_time", True),
    "experiment": ("(SELECT e.name FROM experiments e WHERE e.experiment_id = r.experiment_id)", False),
}
_COMPARE = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_STRING_OPS = {"LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE"}

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<ident>[A-Za-z_]+\.(?:`[^`]*`|"[^"]*"|[A-Za-z0-9_\-./:]+))
  | (?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![A-Za-z_]))
  | (?P<op><=|>=|!=|<>|==|=|<|>)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # ident, number, op, word, string, end
    text: str
    pos: int


@dataclass(frozen=True)
class Comparison:
    entity: str  # param, metric, tag, attribute
    key: str
    op: str  # SQL operator
    value: object


def _error(source: str, tok: Token, expected: str) -> MalformedFilterError:
    shown = "end of input" if tok.kind == "end" else repr(tok.text)
    return MalformedFilterError(
        f"malformed {source} at position {tok.pos}: unexpected {shown}; expected {expected}"
    )


def tokenize(text: str, source: str = "filter") -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise MalformedFilterError(
                f"malformed {source} at position {pos}: unexpected {text[pos:pos + 10]!r}"
                " (unterminated quote or invalid character)"
            )
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, m.group(), pos))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _split_ident(tok: Token, source: str) -> tuple[str, str]:
    """(entity, key) of an ident or bare-attribute word token."""
    if tok.kind == "word":
        if tok.text.lower() in _ATTRIBUTES:
            return "attribute", tok.text.lower()
        raise _error(source, tok, "params.<key>, metrics.<key>, tags.<key> or attributes.<name>")
    prefix, key = tok.text.split(".", 1)
    entity = _ENTITIES.get(prefix.lower())
    if entity is None:
        raise MalformedFilterError(
            f"malformed {source} at position {tok.pos}: unknown prefix {prefix!r} in "
            f"{tok.text!r}; expected params., metrics., tags. or attributes."
        )
    if key[:1] in "`\"" and len(key) >= 2:
        key = key[1:-1]
    if not key:
        raise _error(source, tok, "a non-empty key")
    if entity == "attribute":
        key = key.lower()
        if key not in _ATTRIBUTES:
            raise MalformedFilterError(
                f"malformed {source} at position {tok.pos}: unknown attribute {key!r}; "
                f"expected one of {sorted(_ATTRIBUTES)}"
            )
    return entity, key


def parse_filter(text: str | None) -> list[Comparison]:
    """Parse a filter string into comparisons (ANDed). Empty/None -> []."""
    if text is None or not text.strip():
        return []
    tokens = tokenize(text)
    out: list[Comparison] = []
    i = 0
    while True:
        tok = tokens[i]
        if tok.kind not in ("ident", "word"):
            raise _error("filter", tok, "an identifier such as metrics.acc")
        entity, key = _split_ident(tok, "filter")
        i += 1
        op_tok = tokens[i]
        if op_tok.kind == "op":
            op = _COMPARE[op_tok.text]
            i += 1
        elif op_tok.kind == "word" and op_tok.text.upper() in ("LIKE", "ILIKE"):
            op = op_tok.text.upper()
            i += 1
        elif (
            op_tok.kind == "word"
            and op_tok.text.upper() == "NOT"
            and tokens[i + 1].kind == "word"
            and tokens[i + 1].text.upper() in ("LIKE", "ILIKE")
        ):
            op = "NOT " + tokens[i + 1].text.upper()
            i += 2
        else:
            raise _error("filter", op_tok, "a comparison operator (=, !=, <, <=, >, >=, LIKE)")
        val_tok = tokens[i]
        numeric = entity == "metric" or (entity == "attribute" and _ATTRIBUTES[key][1])
        if op in _STRING_OPS and numeric:
            raise _error("filter", op_tok, f"a numeric comparison for {tok.text}")
        if numeric:
            if val_tok.kind != "number":
                raise _error("filter", val_tok, f"a number to compare {tok.text} with")
            value: object = float(val_tok.text)
        else:
            if val_tok.kind != "string":
                raise _error("filter", val_tok, f"a quoted string to compare {tok.text} with")
            quote = val_tok.text[0]
            value = val_tok.text[1:-1].replace(quote * 2, quote)
        out.append(Comparison(entity, key, op, value))
        i += 1
        nxt = tokens[i]
        if nxt.kind == "end":
            return out
        if nxt.kind == "word" and nxt.text.upper() == "AND":
            i += 1
            continue
        if nxt.kind == "word" and nxt.text.upper() == "OR":
            raise MalformedFilterError(
                f"malformed filter at position {nxt.pos}: 'OR' is not supported; "
                "only comparisons joined by AND"
            )
        raise _error("filter", nxt, "AND or the end of the filter")


_TABLES = {"param": "params", "tag": "tags", "metric": "latest_metrics"}


def _sql_compare(lhs: str, op: str) -> str:
    if op == "ILIKE":
        return f"lower({lhs}) LIKE lower(?)"
    if op == "NOT ILIKE":
        return f"lower({lhs}) NOT LIKE lower(?)"
    return f"{lhs} {op} ?"


def filter_to_sql(comparisons: list[Comparison]) -> tuple[list[str], list[object]]:
    """SQL conditions over ``runs r`` and their bound arguments."""
    clauses: list[str] = []
    args: list[object] = []
    for c in comparisons:
        if c.entity == "attribute":
            clauses.append(_sql_compare(_ATTRIBUTES[c.key][0], c.op))
            args.append(c.value)
        else:
            table = _TABLES[c.entity]
            clauses.append(
                f"EXISTS (SELECT 1 FROM {table} x WHERE x.run_pk = r.run_pk AND x.key = ? "
                f"AND {_sql_compare('x.value', c.op)})"
            )
            args.extend((c.key, c.value))
    return clauses, args


def order_to_sql(order_by: list[str] | None) -> tuple[list[str], list[object]]:
    """ORDER BY terms (missing values last) and their arguments; default newest first."""
    terms: list[str] = []
    args: list[object] = []
    tie = "DESC"  # runs started in the same millisecond: creation order follows start_time's
    for clause in order_by or []:
        if not isinstance(clause, str):
            raise MalformedFilterError(f"order_by entries must be strings, got {clause!r}")
        tokens = tokenize(clause, "order_by")
        tok = tokens[0]
        if tok.kind not in ("ident", "word"):
            raise _error("order_by", tok, "an identifier such as metrics.acc")
        entity, key = _split_ident(tok, "order_by")
        direction = "ASC"
        nxt = tokens[1]
        if nxt.kind == "word" and nxt.text.upper() in ("ASC", "DESC"):
            direction = nxt.text.upper()
            nxt = tokens[2]
        if nxt.kind != "end":
            raise _error("order_by", nxt, "ASC, DESC or the end of the clause")
        if entity == "attribute":
            expr = _ATTRIBUTES[key][0]
            if key == "start_time":
                tie = direction
        else:
            expr = (
                f"(SELECT x.value FROM {_TABLES[entity]} x "
                "WHERE x.run_pk = r.run_pk AND x.key = ?)"
            )
            args.extend((key, key))
        terms.append(f"{expr} IS NULL")
        terms.append(f"{expr} {direction}")
    terms.extend(("r.start_time DESC", f"r.run_pk {tie}"))
    return terms, args


_BASE_COLUMNS = ["run_id", "parent_run_id", "name", "status", "start_time", "end_time", "experiment"]
_CHILD_TABLES = (("params", "params"), ("metrics", "latest_metrics"), ("tags", "tags"))
# Most result columns fetched as correlated subqueries in the one wide query (SQLite allows
# 2000 result columns); keys beyond it are fetched in long form.
_MAX_WIDE_KEYS = 500  # bound parameters stay under SQLite < 3.32's limit of 999
_MAX_JOINS = 60


def search_sqlite(
    conn: sqlite3.Connection,
    experiments: list[str] | None,
    filter_string: str | None,
    order_by: list[str] | None,
    max_results: int | None,
) -> pd.DataFrame:
    """Run a search on an embedded-store connection (caller holds the store lock)."""
    # tens of thousands of row tuples would trigger several full garbage collections
    paused = gc.isenabled()
    gc.disable()
    try:
        return _search(conn, experiments, filter_string, order_by, max_results)
    finally:
        if paused:
            gc.enable()


def _search(
    conn: sqlite3.Connection,
    experiments: list[str] | None,
    filter_string: str | None,
    order_by: list[str] | None,
    max_results: int | None,
) -> pd.DataFrame:
    """Search with all filtering, ordering and limiting done by SQLite.

    Python's per-row and per-value costs of reading results dwarf SQLite's own work, so the
    result is read as few, wide rows. A filter or a limit is evaluated once, into the ordered
    list of selected run_pks (walked by later queries through ``json_each``). Then the keys
    present in the selected runs are counted, and one query returns one row per run: its
    attributes plus one column per *dense* key (present in at least half of the runs; a
    primary-key lookup each). Sparse keys, where per-run lookups would mostly find nothing,
    are read in long form (run, key, value) and pivoted by position.
    """
    import numpy as np
    import pandas as pd

    clauses, args = filter_to_sql(parse_filter(filter_string))
    filtered = bool(clauses)
    exp_names = dict(conn.execute("SELECT experiment_id, name FROM experiments"))
    exp_sql = None
    if experiments is not None:
        wanted = set(experiments)
        ids = [i for i, name in exp_names.items() if name in wanted]
        exp_sql = f"r.experiment_id IN ({','.join(str(int(i)) for i in ids)})"
        clauses.insert(0, exp_sql)
    where = " AND ".join(clauses) if clauses else "1"
    order_terms, order_args = order_to_sql(order_by)
    order_sql = ", ".join(order_terms)
    limit_sql = ""
    limit_args: list[object] = []
    if max_results is not None:
        limit_sql = " LIMIT ?"
        limit_args = [int(max_results)]

    # sel_sql: the selected runs' primary keys, as a subquery (None: every run in the store)
    from_sql, from_args = "runs r", []
    if not filtered and not limit_sql:  # all runs, or all of some experiments (indexed)
        n = conn.execute(f"SELECT count(*) FROM runs r WHERE {where}").fetchone()[0]
        if exp_sql is None or n == conn.execute("SELECT count(*) FROM runs").fetchone()[0]:
            sel_sql, sel_args = None, []
        else:
            sel_sql, sel_args = f"SELECT r.run_pk FROM runs r WHERE {where}", []
    elif _has_json_each(conn):
        # evaluate the filter, order and limit once; later queries walk the chosen run_pks
        # in order instead of re-evaluating the filter (subqueries per run) each time
        selected = conn.execute(
            f"SELECT r.run_pk FROM runs r WHERE {where} ORDER BY {order_sql}{limit_sql}",
            [*args, *order_args, *limit_args],
        ).fetchall()
        n = len(selected)
        sel_sql, sel_args = "SELECT value FROM json_each(?)", [json.dumps([r[0] for r in selected])]
        # CROSS JOIN keeps json_each the outer loop; its key is the position in the list
        from_sql, from_args = "json_each(?) s CROSS JOIN runs r", sel_args
        where, args, limit_sql, limit_args = "r.run_pk = s.value", [], "", []
        order_sql, order_args = "s.key", []
    else:  # pragma: no cover - SQLite built without JSON
        if limit_sql:
            sel_sql = f"SELECT r.run_pk FROM runs r WHERE {where} ORDER BY {order_sql}{limit_sql}"
            sel_args = [*args, *order_args, *limit_args]
        else:
            sel_sql, sel_args = f"SELECT r.run_pk FROM runs r WHERE {where}", list(args)
        n = conn.execute(f"SELECT count(*) FROM ({sel_sql})", sel_args).fetchone()[0]

    wide: list[tuple[str, str, str]] = []  # (column, table, key)
    sparse: dict[str, list[str]] = {}  # table -> keys read in long form
    if n:
        for prefix, table in _CHILD_TABLES:
            in_sel = "" if sel_sql is None else f" WHERE run_pk IN ({sel_sql})"
            for key, count in conn.execute(
                f"SELECT key, count(*) FROM {table}{in_sel} GROUP BY key", sel_args
            ).fetchall():
                if 2 * count >= n and len(wide) < _MAX_WIDE_KEYS:
                    wide.append((f"{prefix}.{key}", table, key))
                else:
                    sparse.setdefault(table, []).append(key)

    # a LEFT JOIN per key is cheaper than a scalar subquery, but SQLite joins at most 64
    # tables; further dense keys become subqueries
    joined = wide[:_MAX_JOINS]
    value_sql = "".join(f", j{i}.value" for i in range(len(joined))) + "".join(
        f", (SELECT x.value FROM {table} x WHERE x.run_pk = r.run_pk AND x.key = ?)"
        for _, table, _ in wide[_MAX_JOINS:]
    )
    join_sql = "".join(
        f" LEFT JOIN {table} j{i} ON j{i}.run_pk = r.run_pk AND j{i}.key = ?"
        for i, (_, table, _) in enumerate(joined)
    )
    sql = (
        "SELECT r.run_pk, r.run_id, r.parent_run_id, r.name, r.status, r.start_time, "
        f"r.end_time, r.experiment_id{value_sql} FROM {from_sql}{join_sql} WHERE {where} "
        f"ORDER BY {order_sql}{limit_sql}"
    )
    rows = conn.execute(
        sql,
        [
            *(key for _, _, key in wide[_MAX_JOINS:]),
            *from_args,
            *(key for _, _, key in joined),
            *args,
            *order_args,
            *limit_args,
        ],
    ).fetchall()
    cols = list(zip(*rows)) if rows else [()] * (8 + len(wide))
    pks = cols[0]
    frame: dict[str, object] = {name: cols[i + 1] for i, name in enumerate(_BASE_COLUMNS)}
    get_exp = exp_names.get
    frame["experiment"] = [get_exp(e) for e in frame["experiment"]]
    columns: dict[str, object] = {}
    for i, (column, table, _) in enumerate(wide):
        values = cols[8 + i]
        # NULL metric values mean NaN
        columns[column] = np.array(values, dtype="float64") if table == "latest_metrics" else values
    for prefix, table in _CHILD_TABLES:
        keys = sparse.get(table)
        if not keys:
            continue
        in_sel = "" if sel_sql is None else f" AND run_pk IN ({sel_sql})"
        data: list[tuple] = []
        for j in range(0, len(keys), 500):  # bound-parameter limits
            chunk = keys[j : j + 500]
            data += conn.execute(
                f"SELECT run_pk, key, value FROM {table} WHERE key IN "
                f"({','.join('?' * len(chunk))}){in_sel}",
                [*chunk, *sel_args],
            ).fetchall()
        for key, values in _pivot(data, pks, numeric=prefix == "metrics").items():
            columns[f"{prefix}.{key}"] = values
    for prefix, _ in _CHILD_TABLES:  # params.*, metrics.*, tags.*, each sorted by key
        for column in sorted(c for c in columns if c.startswith(prefix + ".")):
            frame[column] = columns[column]
    df = pd.DataFrame(frame)
    for col in ("start_time", "end_time"):
        df[col] = pd.to_datetime(df[col], unit="ms", utc=True)
    for col in df.columns:
        if col.startswith("metrics.") and df[col].dtype != "float64":  # e.g. no rows at all
            df[col] = df[col].astype("float64")
    return df


_json_each: bool | None = None


def _has_json_each(conn: sqlite3.Connection) -> bool:
    """Whether this SQLite has the JSON table-valued functions (built in since 3.38)."""
    global _json_each
    if _json_each is None:
        try:
            conn.execute("SELECT value FROM json_each('[1]')").fetchall()
            _json_each = True
        except sqlite3.OperationalError:  # pragma: no cover
            _json_each = False
    return _json_each


def _pivot(data: list[tuple], pks, numeric: bool) -> dict[str, list]:
    """Long (run_pk, key, value) rows -> one column (list) per key aligned with ``pks``; NULL
    metric values mean NaN."""
    n = len(pks)
    get = dict(zip(pks, range(n))).get
    nan = float("nan")
    cols: dict[str, list] = {}
    for pk, key, value in data:
        i = get(pk)
        if i is None:  # pragma: no cover - the queries select the same runs
            continue
        col = cols.get(key)
        if col is None:
            col = cols[key] = [nan] * n if numeric else [None] * n
        if value is not None:
            col[i] = value
    return cols
