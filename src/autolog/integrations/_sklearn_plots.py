"""PNG plots of the scikit-learn integration, rendered on the background worker.

Uses matplotlib's object API with the Agg canvas (never pyplot: its global figure registry is
not thread-safe and may pick an interactive backend). When matplotlib is not installed,
:func:`render` returns nothing.
"""

from __future__ import annotations

import io
from typing import Any


def _canvas(width: float = 5.0, height: float = 4.0):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _confusion_matrix(y_true, y_pred, classes, sample_weight) -> bytes:
    import numpy as np

    from autolog.integrations._sklearn_metrics import _metric_fn

    cm = _metric_fn("confusion_matrix")(y_true, y_pred, labels=classes, sample_weight=sample_weight)
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = cm / cm.sum(axis=1, keepdims=True)
    norm = np.nan_to_num(norm)
    n = len(classes)
    size = min(3.0 + 0.5 * n, 12.0)
    fig = _canvas(size, size * 0.85)
    ax = fig.add_subplot()
    image = ax.imshow(norm, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax)
    if n <= 30:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center",
                        color="white" if norm[i, j] > 0.5 else "black", fontsize=8)
    labels = [str(c) for c in classes]
    ax.set_xticks(range(n), labels=labels if n <= 30 else None, rotation=45 if n > 5 else 0)
    ax.set_yticks(range(n), labels=labels if n <= 30 else None)
    ax.set_xlabel("Predicted label")
    ax.set_ylabel("True label")
    ax.set_title("Normalized confusion matrix")
    return _png(fig)


def _binary_curves(y_true, scores, pos_label, sample_weight) -> dict[str, bytes]:
    import numpy as np

    from autolog.integrations._sklearn_metrics import _metric_fn

    positive = np.asarray(y_true) == pos_label
    out: dict[str, bytes] = {}
    fpr, tpr, _ = _metric_fn("roc_curve")(positive, scores, sample_weight=sample_weight)
    auc = _metric_fn("auc")(fpr, tpr)
    fig = _canvas()
    ax = fig.add_subplot()
    ax.plot(fpr, tpr, label=f"AUC = {auc:.3f}")
    ax.plot([0, 1], [0, 1], linestyle="--", color="gray")
    ax.set_xlabel("False positive rate")
    ax.set_ylabel("True positive rate")
    ax.set_title(f"ROC curve (positive label: {pos_label})")
    ax.legend(loc="lower right")
    out["training_roc_curve.png"] = _png(fig)
    precision, recall, _ = _metric_fn("precision_recall_curve")(positive, scores, sample_weight=sample_weight)
    ap = _metric_fn("average_precision_score")(positive, scores, sample_weight=sample_weight)
    fig = _canvas()
    ax = fig.add_subplot()
    ax.step(recall, precision, where="post", label=f"AP = {ap:.3f}")
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    ax.set_ylim(0.0, 1.05)
    ax.set_title(f"Precision-recall curve (positive label: {pos_label})")
    ax.legend(loc="lower left")
    out["training_precision_recall_curve.png"] = _png(fig)
    return out


def _bar_chart(values, names, title: str, max_bars: int = 30) -> bytes:
    import numpy as np

    values = np.asarray(values, dtype=float).ravel()
    order = np.argsort(-np.abs(values))[:max_bars][::-1]
    labels = [str(names[i]) if names is not None and i < len(names) else f"x{i}" for i in order]
    fig = _canvas(6.0, max(2.5, 0.3 * len(order) + 1.0))
    ax = fig.add_subplot()
    ax.barh(range(len(order)), values[order])
    ax.set_yticks(range(len(order)), labels=labels)
    ax.set_title(title)
    return _png(fig)


def render(ev: Any, importances: Any, coefficients: Any, feature_names: Any) -> dict[str, bytes]:
    """PNG bytes by artifact name: confusion matrix, ROC and precision-recall curves (binary),
    feature importances / coefficients. Empty when matplotlib is missing. A plot that fails is
    left out; never raises."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return {}
    out: dict[str, bytes] = {}
    if ev is not None and ev.kind == "classifier" and ev.y_true is not None and ev.classes is not None:
        if ev.y_pred is not None and len(ev.classes) <= 100:
            try:
                out["training_confusion_matrix.png"] = _confusion_matrix(
                    ev.y_true, ev.y_pred, ev.classes, ev.sample_weight)
            except Exception:
                pass
        if ev.proba is not None and len(ev.classes) == 2:
            try:
                pos = ev.pos_label if ev.pos_label is not None else ev.classes[1]
                col = list(ev.classes).index(pos)
                out.update(_binary_curves(ev.y_true, ev.proba[:, col], pos, ev.sample_weight))
            except Exception:
                pass
    if importances is not None:
        try:
            out["feature_importances.png"] = _bar_chart(importances, feature_names, "Feature importances")
        except Exception:
            pass
    elif coefficients is not None:
        try:
            import numpy as np

            coef = np.asarray(coefficients, dtype=float)
            if coef.ndim == 2 and coef.shape[0] > 1:
                # one row per class: plot the mean magnitude per feature
                coef = np.abs(coef).mean(axis=0)
            out["coefficients.png"] = _bar_chart(coef, feature_names, "Coefficients")
        except Exception:
            pass
    return out
