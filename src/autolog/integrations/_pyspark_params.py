"""Spark ML estimator trees: deterministic stage names, flat params, tuning results.

Everything here reads the Python side of Spark ML ``Params`` objects only (``extractParamMap``,
``getOrDefault``): no JVM round trip and never a Spark job. Only the tuning helpers call the
evaluator's ``isLargerBetter`` (one cheap JVM call for Java evaluators, no job).

Naming rule (kept stable so that runs stay comparable): the stages of an estimator are visited
depth first, in the order of the params that hold them (``Params.params`` is sorted by name; a
list param such as ``stages`` keeps its order). A stage is named by its class name; when a
class occurs more than once in the tree, every occurrence gets ``ClassName_1``, ``ClassName_2``
... in visiting order. The root's params are logged bare, the other stages' as
``<StageName>.<param>``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "StageTree",
    "TuningResult",
    "build_tree",
    "is_featurizer_only",
    "metric_name_of",
    "tuning_result",
]

# Held by tuners; logged as search results and child runs, not as one enormous param.
_SKIPPED_PARAMS = frozenset({"estimatorParamMaps"})


@dataclass
class Stage:
    """One node of the tree: the Params object, its unique name and where it hangs."""

    obj: Any
    name: str
    role: str  # name of the parent's param holding it ("" for the root)
    in_list: bool  # held in a list param (Pipeline stages)
    children: list[Stage] = field(default_factory=list)


@dataclass
class StageTree:
    """An estimator (or model) and every Params object nested in it, named deterministically."""

    root: Stage
    stages: list[Stage]  # depth-first order, root first
    by_uid: dict[str, Stage]

    @property
    def uids(self) -> frozenset[str]:
        """Uids of every stage (copies made by Spark keep their uid)."""
        return frozenset(self.by_uid)

    def key(self, param: Any) -> str:
        """Log key of a ``Param`` relative to the root: bare for the root's, else ``Stage.param``.

        A param whose owner is not in the tree (a stray param map entry) is keyed by its owner's
        uid. Never raises for a ``Param``.
        """
        stage = self.by_uid.get(param.parent)
        if stage is self.root:
            return param.name
        owner = stage.name if stage is not None else str(param.parent)
        return f"{owner}.{param.name}"

    def params(self, extra: dict[Any, Any] | None = None) -> dict[str, str]:
        """All defined params of every stage as ``{key: str(value)}``.

        ``extra`` is a Spark param map (``{Param: value}``) overriding values, as
        ``fit(dataset, params)`` does. Nested Params values are replaced by their stage names.
        """
        overrides: dict[str, dict[str, Any]] = {}
        for param, value in (extra or {}).items():
            overrides.setdefault(getattr(param, "parent", ""), {})[param.name] = value
        names = {id(s.obj): s.name for s in self.stages}
        out: dict[str, str] = {}
        for stage in self.stages:
            prefix = "" if stage is self.root else stage.name + "."
            values = _values(stage.obj)
            values.update(overrides.get(stage.obj.uid, {}))
            for name, value in values.items():
                out[prefix + name] = _format(value, names)
        for uid, values in overrides.items():
            if uid not in self.by_uid:
                for name, value in values.items():
                    out[f"{uid}.{name}"] = _format(value, names)
        return out

    def hierarchy(self) -> dict[str, Any]:
        """The tree as JSON-ready nested dicts: name, class and nested stages by role."""
        return _hierarchy(self.root)

    @property
    def is_composite(self) -> bool:
        """Whether the root holds other stages (Pipeline, OneVsRest, tuners...)."""
        return bool(self.root.children)


def build_tree(root: Any) -> StageTree:
    """Walk ``root`` (a Spark ``Params``) and name its stages by the module's naming rule.

    Cycles and repeated objects are visited once. Raises only if ``root`` is not a ``Params``.
    """
    from pyspark.ml.param import Params

    if not isinstance(root, Params):
        raise TypeError(f"expected a pyspark.ml Params object, got {type(root).__name__}")
    order: list[tuple[Any, str, bool, int]] = []  # (obj, role, in_list, parent index)
    seen: set[int] = set()

    def visit(obj: Any, role: str, in_list: bool, parent: int) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        index = len(order)
        order.append((obj, role, in_list, parent))
        for child_role, child, child_in_list in _nested(obj, Params):
            visit(child, child_role, child_in_list, index)

    visit(root, "", False, -1)
    counts: dict[str, int] = {}
    for obj, *_ in order:
        cls = type(obj).__name__
        counts[cls] = counts.get(cls, 0) + 1
    seen_counts: dict[str, int] = {}
    stages: list[Stage] = []
    for obj, role, in_list, parent in order:
        cls = type(obj).__name__
        if counts[cls] > 1:
            seen_counts[cls] = seen_counts.get(cls, 0) + 1
            name = f"{cls}_{seen_counts[cls]}"
        else:
            name = cls
        stage = Stage(obj, name, role, in_list)
        if parent >= 0:
            stages[parent].children.append(stage)
        stages.append(stage)
    by_uid: dict[str, Stage] = {}
    for stage in stages:
        by_uid.setdefault(stage.obj.uid, stage)
    return StageTree(stages[0], stages, by_uid)


def _nested(obj: Any, params_cls: type) -> list[tuple[str, Any, bool]]:
    out: list[tuple[str, Any, bool]] = []
    for param in obj.params:
        if param.name in _SKIPPED_PARAMS or not obj.isDefined(param):
            continue
        value = obj.getOrDefault(param)
        if isinstance(value, params_cls):
            out.append((param.name, value, False))
        elif (
            isinstance(value, (list, tuple))
            and value
            and all(isinstance(v, params_cls) for v in value)
        ):
            out.extend((param.name, v, True) for v in value)
    return out


def _values(obj: Any) -> dict[str, Any]:
    return {
        param.name: value
        for param, value in obj.extractParamMap().items()
        if param.name not in _SKIPPED_PARAMS
    }


def _format(value: Any, names: dict[int, str]) -> str:
    if id(value) in names:
        return names[id(value)]
    if isinstance(value, (list, tuple)) and value and all(id(v) in names for v in value):
        return json.dumps([names[id(v)] for v in value])
    if hasattr(value, "uid") and hasattr(value, "params"):
        return type(value).__name__  # a Params object outside the tree
    return str(value)


def _hierarchy(stage: Stage) -> dict[str, Any]:
    cls = type(stage.obj)
    node: dict[str, Any] = {"name": stage.name, "class": f"{cls.__module__}.{cls.__qualname__}"}
    for child in stage.children:
        if child.in_list:
            node.setdefault(child.role, []).append(_hierarchy(child))
        else:
            node[child.role] = _hierarchy(child)
    return node


def is_featurizer_only(estimator: Any) -> bool:
    """Whether fitting ``estimator`` only prepares features (no run of its own is wanted).

    True for estimators defined in ``pyspark.ml.feature`` (or subclasses of them) that have no
    ``predictionCol``, and for Pipelines whose estimator stages are all such (or that hold no
    estimator at all). Tuners and anything else: False. Never raises.
    """
    try:
        from pyspark.ml.base import Estimator
        from pyspark.ml.pipeline import Pipeline

        if isinstance(estimator, Pipeline):
            stages = estimator.getStages() if estimator.isDefined(estimator.stages) else []
            return all(
                is_featurizer_only(s) for s in stages if isinstance(s, Estimator)
            )
        if estimator.hasParam("predictionCol"):
            return False
        return any(
            (c.__module__ or "").startswith("pyspark.ml.feature") for c in type(estimator).__mro__
        )
    except Exception:
        return False


# --------------------------------------------------------------------------- tuning


@dataclass
class Candidate:
    """One param map tried by a tuner, with its score(s)."""

    index: int
    tuned: dict[str, str]  # only the keys the param map sets, relative to the tuned estimator
    params: dict[str, str]  # every param of the tuned estimator with that map applied
    metrics: dict[str, float]
    rank: int = 0


@dataclass
class TuningResult:
    """What a fitted CrossValidatorModel / TrainValidationSplitModel says about its search."""

    kind: str  # "cv" | "tvs"
    metric_name: str
    larger_is_better: bool
    candidates: list[Candidate]
    best_index: int
    tuned_name: str  # stage name of the tuned estimator (relative tree root)

    @property
    def best(self) -> Candidate:
        return self.candidates[self.best_index]

    def ranked(self) -> list[Candidate]:
        """Candidates best first (ties keep the search order, as Spark's argmax does)."""
        return sorted(self.candidates, key=lambda c: c.rank)

    def csv(self, run_ids: dict[int, str]) -> str:
        """The search results as CSV text: one row per candidate, tuned params, scores, rank."""
        import csv
        import io

        tuned_keys: list[str] = []
        for cand in self.candidates:
            for key in cand.tuned:
                if key not in tuned_keys:
                    tuned_keys.append(key)
        metric_keys = list(self.candidates[0].metrics) if self.candidates else []
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["candidate", *tuned_keys, *metric_keys, "rank", "is_best", "run_id"])
        for cand in self.candidates:
            writer.writerow(
                [
                    cand.index,
                    *(cand.tuned.get(k, "") for k in tuned_keys),
                    *(repr(float(cand.metrics[k])) for k in metric_keys),
                    cand.rank,
                    cand.index == self.best_index,
                    run_ids.get(cand.index, ""),
                ]
            )
        return buf.getvalue()


def metric_name_of(evaluator: Any, extra: dict[Any, Any] | None = None) -> str:
    """The evaluator's ``metricName`` (honouring a param map), or ``"metric"`` if it has none."""
    if extra:
        for param, value in extra.items():
            if getattr(param, "name", None) == "metricName" and param.parent == evaluator.uid:
                return str(value)
    if evaluator.hasParam("metricName") and evaluator.isDefined("metricName"):
        return str(evaluator.getOrDefault("metricName"))
    return "metric"


def tuning_result(model: Any) -> TuningResult | None:
    """Read the search out of a fitted tuner model; None when ``model`` is not one.

    Uses only values the model already holds (``avgMetrics``/``stdMetrics`` or
    ``validationMetrics``, the param maps, the evaluator): no Spark job.
    """
    from pyspark.ml.tuning import CrossValidatorModel, TrainValidationSplitModel

    if isinstance(model, CrossValidatorModel):
        kind = "cv"
        scores = [float(m) for m in model.avgMetrics]
        stds = [float(s) for s in (getattr(model, "stdMetrics", None) or [])]
    elif isinstance(model, TrainValidationSplitModel):
        kind = "tvs"
        scores = [float(m) for m in model.validationMetrics]
        stds = []
    else:
        return None
    evaluator = model.getEvaluator()
    maps = model.getEstimatorParamMaps()
    metric = metric_name_of(evaluator)
    larger = bool(evaluator.isLargerBetter())
    tree = build_tree(model.getEstimator())
    candidates = []
    for i, param_map in enumerate(maps):
        if kind == "cv":
            metrics = {f"avg_{metric}": scores[i]}
            if len(stds) == len(scores):
                metrics[f"std_{metric}"] = stds[i]
        else:
            metrics = {metric: scores[i]}
        tuned = {tree.key(p): _format(v, {}) for p, v in param_map.items()}
        candidates.append(Candidate(i, tuned, tree.params(param_map), metrics))
    # Same tie rule as Spark's np.argmax / np.argmin: the first best index wins.
    order = sorted(range(len(scores)), key=lambda i: (-scores[i] if larger else scores[i], i))
    for rank, i in enumerate(order, start=1):
        candidates[i].rank = rank
    best = order[0] if order else 0
    return TuningResult(kind, metric, larger, candidates, best, tree.root.name)
