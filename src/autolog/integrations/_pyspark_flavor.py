"""The ``pyspark`` model flavor: Spark ML models saved with Spark's own ML writer.

A model directory holds ``sparkml/`` (what ``model.write().save()`` wrote) and the Python class
name in the flavor metadata and in ``spark-flavor.json``, so loading calls that class's
``load``. Importing this module registers the flavor; it imports no pyspark.

Where the files go: Spark's writers run Spark jobs whose tasks write part files from the
executors. With a local master, or a standalone cluster whose workers share the driver's
disk, the artifact directory is written directly (a ``file://`` URI). For clusters without a
shared disk set the Spark conf ``spark.autolog.dfsTmpDir`` to a distributed-filesystem
directory: the model is written there and copied to the artifact directory by the driver
(and copied back there to load).

Exit safety: models are written by autolog's background worker. The JVM is killed by
pyspark's own exit hook, so :func:`arm_exit_drain` registers (after pyspark's hook, hence run
before it) a bounded wait for pending writes; ``SparkContext.stop`` waits the same way (the
integration wraps it). Neither ever waits longer than :data:`DRAIN_TIMEOUT_S`.
"""

from __future__ import annotations

import atexit
import json
import sys
import threading
import uuid
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autolog._errors import ModelError
from autolog._models import ColSpec, ColumnSchema, Flavor, register_flavor

__all__ = ["DRAIN_TIMEOUT_S", "SparkFlavor", "arm_exit_drain", "drain", "spark_schema"]

DATA_DIR = "sparkml"
INFO_FILE = "spark-flavor.json"
DFS_TMPDIR_CONF = "spark.autolog.dfsTmpDir"
#: longest wait for pending model writes at SparkContext.stop or interpreter exit
DRAIN_TIMEOUT_S = 120.0

_lock = threading.Lock()
_pending = 0
_idle = threading.Condition(_lock)
_exit_armed = False

# Spark SQL type name -> autolog logical type (see autolog._models._schema)
_TYPES = {
    "BooleanType": "bool",
    "ByteType": "int8",
    "ShortType": "int16",
    "IntegerType": "int32",
    "LongType": "int64",
    "FloatType": "float32",
    "DoubleType": "float64",
    "StringType": "string",
    "VarcharType": "string",
    "CharType": "string",
    "BinaryType": "bytes",
    "DateType": "datetime",
    "TimestampType": "datetime",
    "TimestampNTZType": "datetime",
    "VectorUDT": "vector",
}


def spark_schema(schema: Any, columns: list[str] | None = None) -> ColumnSchema:
    """A :class:`ColumnSchema` for a Spark ``StructType`` (optionally only ``columns``).

    Reads the schema object only (no Spark job). Unknown Spark types become ``object``; ML
    vectors become the logical type ``vector``. Raises ``KeyError`` for a column not in it.
    """
    by_name = {f.name: f for f in schema.fields}
    names = columns if columns is not None else list(by_name)
    specs = []
    for name in names:
        dtype = by_name[name].dataType
        raw = type(dtype).__name__
        specs.append(ColSpec(name, _TYPES.get(raw, "object"), raw))
    return ColumnSchema(tuple(specs))


def _is_spark_frame(data: Any) -> bool:
    for mod_name in ("pyspark.sql.dataframe", "pyspark.sql.classic.dataframe"):
        mod = sys.modules.get(mod_name)
        if mod is not None and isinstance(data, getattr(mod, "DataFrame", ())):
            return True
    connect = sys.modules.get("pyspark.sql.connect.dataframe")
    return connect is not None and isinstance(data, connect.DataFrame)


def _active_session() -> Any:
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is None:
        # Loading outside a Spark application: start one (a local one unless configured).
        session = SparkSession.builder.getOrCreate()
    return session


class SparkFlavor(Flavor):
    """Spark ML ``Transformer`` objects that Spark can write (fitted models, PipelineModels,
    tuner models, and plain transformers such as VectorAssembler)."""

    name = "pyspark"
    framework = "pyspark"

    def matches(self, model: Any) -> bool:
        base = sys.modules.get("pyspark.ml.base")
        return (
            base is not None
            and isinstance(model, base.Transformer)
            and callable(getattr(model, "write", None))
        )

    def framework_version(self) -> str | None:
        pyspark = sys.modules.get("pyspark")
        if pyspark is not None:
            return getattr(pyspark, "__version__", None)
        return super().framework_version()

    def snapshot(self, model: Any) -> Callable[[Path], dict[str, Any]]:
        # A copy (cheap: one JVM call per stage, no job) so setters called on the user's
        # model after fit cannot change what is written later in the background.
        return _PendingWrite(self, model.copy())

    def save(self, model: Any, path: Path) -> dict[str, Any]:
        """Write ``model`` with ``model.write()`` into ``path/sparkml``; return its class name.

        Raises :class:`~autolog.ModelError` when Spark cannot write it (no active Spark
        context, a model class without a writer...).
        """
        cls = type(model)
        info = {
            "spark_class": f"{cls.__module__}.{cls.__qualname__}",
            "data": DATA_DIR,
        }
        target = (Path(path) / DATA_DIR).resolve()
        try:
            session = _spark_session_or_none()
            dfs = session.conf.get(DFS_TMPDIR_CONF, "") if session is not None else ""
            if dfs:
                tmp = f"{dfs.rstrip('/')}/autolog-{uuid.uuid4().hex}"
                model.write().overwrite().save(tmp)
                _hadoop_copy(session, tmp, target.as_uri(), to_local=True)
            else:
                model.write().overwrite().save(target.as_uri())
        except Exception as exc:
            raise ModelError(f"Spark could not write {cls.__name__}: {exc}") from exc
        (Path(path) / INFO_FILE).write_text(json.dumps(info, indent=2))
        return info

    def load(self, path: Path) -> Any:
        """Load the model with its class's ``load``; starts a SparkSession if none is active.

        Raises :class:`~autolog.ModelError` when the class or the files cannot be read.
        """
        import importlib

        info_file = Path(path) / INFO_FILE
        try:
            info = json.loads(info_file.read_text())
            module_name, _, cls_name = info["spark_class"].rpartition(".")
            cls = getattr(importlib.import_module(module_name), cls_name)
        except Exception as exc:
            raise ModelError(f"cannot read Spark model class from {info_file}: {exc}") from exc
        source = (Path(path) / info.get("data", DATA_DIR)).resolve()
        try:
            session = _active_session()
            dfs = session.conf.get(DFS_TMPDIR_CONF, "")
            if dfs:
                tmp = f"{dfs.rstrip('/')}/autolog-{uuid.uuid4().hex}"
                _hadoop_copy(session, source.as_uri(), tmp, to_local=False)
                return cls.load(tmp)
            return cls.load(source.as_uri())
        except Exception as exc:
            raise ModelError(f"Spark could not load {cls_name} from {source}: {exc}") from exc

    def predict(self, model: Any, data: Any) -> Any:
        """``model.transform`` for a Spark DataFrame; a pandas DataFrame goes through the active
        session and comes back as pandas. Raises whatever Spark raises for bad input."""
        if _is_spark_frame(data):
            return model.transform(data)
        session = _active_session()
        return model.transform(session.createDataFrame(data)).toPandas()

    def infer_schema(self, data: Any) -> Any:
        if _is_spark_frame(data):
            return spark_schema(data.schema)
        return None


def _spark_session_or_none() -> Any:
    sql = sys.modules.get("pyspark.sql")
    if sql is None:
        return None
    return sql.SparkSession.getActiveSession()


def _hadoop_copy(session: Any, src: str, dst: str, *, to_local: bool) -> None:
    sc = session.sparkContext
    jvm = sc._jvm
    conf = sc._jsc.hadoopConfiguration()
    src_path = jvm.org.apache.hadoop.fs.Path(src)
    dst_path = jvm.org.apache.hadoop.fs.Path(dst)
    if to_local:
        fs = src_path.getFileSystem(conf)
        fs.copyToLocalFile(True, src_path, dst_path, True)  # delete the temporary copy
    else:
        fs = dst_path.getFileSystem(conf)
        fs.copyFromLocalFile(False, True, src_path, dst_path)


# --------------------------------------------------------------------------- draining


class _PendingWrite:
    """A deferred save counted as pending from creation until it ran or was dropped."""

    def __init__(self, flavor: SparkFlavor, model: Any) -> None:
        self._flavor = flavor
        self._model = model
        _begin()
        # A write that is never called (the logging failed in between) must not make the
        # exit drain wait for it: the count drops when the object goes away.
        self._done = weakref.finalize(self, _end)

    def __call__(self, path: Path) -> dict[str, Any]:
        try:
            return self._flavor.save(self._model, path)
        finally:
            self._done()


def _begin() -> None:
    global _pending
    with _lock:
        _pending += 1


def _end() -> None:
    global _pending
    with _lock:
        _pending -= 1
        if _pending <= 0:
            _pending = 0
            _idle.notify_all()


def pending() -> int:
    """Number of Spark model writes captured but not finished yet."""
    with _lock:
        return _pending


def drain(timeout: float = DRAIN_TIMEOUT_S) -> bool:
    """Wait (at most ``timeout`` seconds) until no Spark model write is pending.

    Returns True when none is pending, False on timeout. Never raises.
    """
    with _lock:
        return _idle.wait_for(lambda: _pending <= 0, timeout=timeout)


def arm_exit_drain() -> None:
    """Register, once, an exit hook that waits for pending model writes while the JVM lives.

    Must be called after the SparkContext exists (i.e. after pyspark registered the exit hook
    that kills the JVM): exit hooks run in reverse registration order, so ours runs first.
    Never raises.
    """
    global _exit_armed
    with _lock:
        if _exit_armed:
            return
        _exit_armed = True
    atexit.register(drain)


register_flavor(SparkFlavor())
