"""The patching engine: wrappers, the error boundary, exact revert.

One :class:`_Slot` per patched ``(owner, attr)`` holds the original object and a tuple of
handlers (one per integration hook), so two integrations patching the same function never
undo each other. The wrapper is a ``wrapt.FunctionWrapper`` subclass (descriptor binding,
``inspect.signature``, ``__name__`` / ``__doc__`` all come from the original) that pickles by
reference to its owner.

Every patched call goes through :func:`_dispatch` (built per slot): if no handler applies --
integration off, or an autologged call is already running in this context -- the original is
called directly. Otherwise :func:`_invoke` runs the hooks around exactly one call of the
original; see ``autolog.integration`` for the hook protocol.

Importing this module imports wrapt; the registry only imports it once a framework is being
patched.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
import threading
import warnings
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

import wrapt

from autolog import _importhook
from autolog._config import Config, resolve
from autolog._errors import AutologWarning, is_strict

__all__ = [
    "Call",
    "Owner",
    "Patcher",
    "carry_context",
    "find_wrapper",
    "in_autologged_call",
    "is_patched",
    "report",
]

_MISSING = object()
_CARRIED = object()  # marker: running in a worker of an autologged call (carry_context)

# The autologged call running in this context (a Call), _CARRIED, or None.
_CURRENT: contextvars.ContextVar[Any] = contextvars.ContextVar("autolog_current_call", default=None)

_lock = threading.RLock()
_slots: dict[tuple[int, str], _Slot] = {}
_subclass_slots: dict[int, _SubclassSlot] = {}


# --------------------------------------------------------------------------------------------
# owners (integrations as the engine sees them) and error reporting


class Owner:
    """What the engine knows about the integration behind a hook.

    ``name`` (tags, warnings), ``config`` (a resolved :class:`autolog._config.Config`),
    ``warned`` (one warning per integration), ``integration`` (the Integration instance or
    None). The registry keeps one per integration; tests may build their own.
    """

    __slots__ = ("name", "config", "warned", "integration", "__weakref__")

    def __init__(self, name: str, config: Config | None = None, integration: Any = None) -> None:
        self.name = name
        self.config = config if config is not None else resolve({}, {}, {})
        self.warned = False
        self.integration = integration

    def __repr__(self) -> str:
        return f"<autolog integration {self.name!r}>"


def report(owner: Owner, exc: BaseException, context: str) -> BaseException | None:
    """Handle an exception raised by autolog code on behalf of ``owner``.

    Strict mode: returns ``exc`` (the caller raises it once it has cleaned up). Otherwise
    logs it at debug level and emits one AutologWarning per integration (none when the
    integration's ``silent`` option is on); returns None. Never raises, not even when
    warnings are turned into errors (the warning then goes to the ``autolog`` logger).
    """
    if is_strict():
        return exc
    import logging  # error path only

    logger = logging.getLogger("autolog")
    logger.debug("%s integration failed %s", owner.name, context, exc_info=exc)
    with _lock:
        if owner.warned:
            return None
        owner.warned = True
    if owner.config.get("silent"):
        return None
    message = (f"autolog: the {owner.name} integration failed {context}: "
               f"{type(exc).__name__}: {exc}. Your code was not affected. Further errors of this "
               f"integration are not shown (AUTOLOG_STRICT=1 raises them).")
    try:
        # report <- _invoke <- dispatch <- the user's call (C frames not counted)
        warnings.warn(AutologWarning(message), stacklevel=4)
    except Exception:  # warnings configured as errors: our bug must still not reach the user
        logger.warning("%s", message)
    return None


# --------------------------------------------------------------------------------------------
# Call: what a hook sees


class Call:
    """One intercepted call, as seen by one integration's hook.

    Attributes: ``integration`` (name), ``config`` (resolved options), ``instance`` (``self``
    for methods, the class for classmethods, else None), ``args`` / ``kwargs`` (what the
    original will receive; a hook may *replace* them before its ``yield`` -- build copies,
    never mutate the user's objects), ``function_name``, ``owner`` (class or module patched),
    ``nested`` (an outer autologged call is running), ``result`` (after the original
    returned), ``exception`` (after it raised). ``arguments`` binds ``args`` / ``kwargs``
    through the original's signature with defaults applied (computed on first use).
    """

    __slots__ = ("_owner", "_slot", "_wrapped", "instance", "args", "kwargs", "nested",
                 "result", "exception", "_sig")

    def __init__(self, owner: Owner, slot: _Slot, wrapped: Any, instance: Any,
                 args: tuple[Any, ...], kwargs: dict[str, Any], nested: bool) -> None:
        self._owner = owner
        self._slot = slot
        self._wrapped = wrapped
        self.instance = instance
        self.args = args
        self.kwargs = kwargs
        self.nested = nested
        self.result: Any = None
        self.exception: BaseException | None = None
        self._sig: Any = None

    @property
    def integration(self) -> str:
        """Name of the integration this hook belongs to."""
        return self._owner.name

    @property
    def config(self) -> Config:
        """Resolved options of the integration (global < integration defaults < user)."""
        return self._owner.config

    @property
    def function_name(self) -> str:
        """Name of the patched attribute (``"fit"``, ``"train"``...)."""
        return self._slot.attr

    @property
    def owner(self) -> Any:
        """The class or module whose attribute was patched."""
        return self._slot.owner

    def _signature(self) -> Any:
        if self._sig is None:
            import inspect

            self._sig = inspect.signature(self._wrapped)
        return self._sig

    @property
    def arguments(self) -> dict[str, Any]:
        """``{parameter: value}`` for this call, defaults applied (a fresh dict each time).

        Positional arguments are honoured; ``*args`` / ``**kwargs`` parameters appear under
        their own names as a tuple / dict. Raises TypeError if the arguments do not fit the
        signature (the original would raise too).
        """
        bound = self._signature().bind(*self.args, **self.kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)

    def get_argument(self, name: str, default: Any = None) -> Any:
        """Value of parameter ``name`` as the original will see it (default applied)."""
        return self.arguments.get(name, default)

    def set_argument(self, name: str, value: Any) -> None:
        """Make the original receive ``value`` for parameter ``name``.

        Replaces ``args`` / ``kwargs`` with new objects: a parameter given positionally is
        replaced at its position, anything else is passed by keyword. Never mutates the
        user's containers (pass a *copy* of a user list with your additions). Raises
        TypeError if ``name`` is not a parameter and the function takes no ``**kwargs``.
        """
        params = self._signature().parameters
        names = list(params)
        if name in params:
            kind = params[name].kind
            if kind in (kind.VAR_POSITIONAL, kind.VAR_KEYWORD):
                raise TypeError(f"cannot set the *{name} / **{name} parameter; set single arguments")
            index = names.index(name)
            if kind in (kind.POSITIONAL_ONLY, kind.POSITIONAL_OR_KEYWORD) and index < len(self.args):
                args = list(self.args)
                args[index] = value
                self.args = tuple(args)
                return
            if kind == kind.POSITIONAL_ONLY:
                raise TypeError(f"cannot pass positional-only parameter {name!r} by keyword")
        elif not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            raise TypeError(f"{self.function_name}() has no parameter {name!r}")
        kwargs = dict(self.kwargs)
        kwargs[name] = value
        self.kwargs = kwargs

    def session(self, run_name: str | None = None, *, exclusive: bool | None = None) -> Any:
        """A :class:`autolog._session.Session` (context manager) for this call; see its docs."""
        from autolog._session import Session

        return Session(self, run_name, exclusive=exclusive)

    def __repr__(self) -> str:
        return f"<autolog Call {self._owner.name}:{_describe(self._slot.owner)}.{self._slot.attr}>"


def _describe(owner: Any) -> str:
    if isinstance(owner, ModuleType):
        return owner.__name__
    return f"{getattr(owner, '__module__', '?')}.{getattr(owner, '__qualname__', owner)}"


# --------------------------------------------------------------------------------------------
# the error boundary


class _Handler:
    __slots__ = ("owner", "hook", "nested", "when")

    def __init__(self, owner: Owner, hook: Callable[[Call], Any], nested: bool,
                 when: Callable[[tuple, dict], bool] | None = None) -> None:
        self.owner = owner
        self.hook = hook
        self.nested = nested
        self.when = when


def _declined(handlers: tuple[_Handler, ...], args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """True when every handler's ``when`` predicate says the call is none of its business.

    Checked before a Call object or a generator exists, so calls a hook never wants (a metric
    on someone else's data) pay only for the predicate. A predicate that raises counts as
    interested: the full path then runs inside the error boundary, where the hook reports it.
    """
    for handler in handlers:
        when = handler.when
        if when is None:
            return False
        try:
            if when(args, kwargs):
                return False
        except Exception:  # noqa: BLE001 - reported by the hook on the full path
            return False
    return True


class HookProtocolError(RuntimeError):
    """A hook broke the protocol (not a generator, yielded twice...)."""


def _invoke(slot: _Slot, handlers: tuple[_Handler, ...], wrapped: Any, instance: Any,
            args: tuple[Any, ...], kwargs: dict[str, Any], parent: Any) -> Any:
    nested = parent is not None
    started: list[tuple[_Handler, Call, Any]] = []
    token = None
    # strict mode (every test suite): prove that no hook changed the user's containers in place
    user_containers = _snapshot_containers(args, kwargs) if is_strict() else None
    try:
        for handler in handlers:
            call = Call(handler.owner, slot, wrapped, instance, args, kwargs, nested)
            if token is None:
                token = _CURRENT.set(call)
            try:
                gen = handler.hook(call)
                if next(gen, _MISSING) is _MISSING:
                    continue  # the hook returned without yielding: it takes no part in this call
            except Exception as exc:  # our bug: the original still runs, with the user's args
                err = report(handler.owner, exc, f"before {slot.attr}() ran")
                if err is not None:
                    raise err
                continue
            new_args, new_kwargs = call.args, call.kwargs
            if not isinstance(new_args, tuple) or not isinstance(new_kwargs, dict):
                gen.close()
                err = report(handler.owner, HookProtocolError("call.args must be a tuple and call.kwargs a dict"),
                             f"before {slot.attr}() ran")
                if err is not None:
                    raise err
                continue
            args, kwargs = new_args, new_kwargs
            started.append((handler, call, gen))
        if user_containers:
            _check_containers(user_containers, handlers, slot)
        if not started:
            # every hook opted out: this call is not autologged, so calls inside it may be
            if token is not None:
                _CURRENT.reset(token)
                token = None
            return wrapped(*args, **kwargs)

        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            traceback = exc.__traceback__
            errors = _unwind(started, exc)
            exc.__traceback__ = traceback  # keep our frames out of the user's traceback
            if errors:
                raise errors[0] from exc
            raise

        errors = []
        for handler, call, gen in reversed(started):
            call.result = result
            try:
                gen.send(result)
            except StopIteration:
                continue
            except Exception as exc:
                err = report(handler.owner, exc, f"after {slot.attr}() returned")
            else:
                gen.close()
                err = report(handler.owner, HookProtocolError("hook yielded more than once"),
                             f"after {slot.attr}() returned")
            if err is not None:
                errors.append(err)
        if errors:
            raise errors[0]
        return result
    finally:
        # a hook left suspended (KeyboardInterrupt in another hook...) is closed now, so its
        # session ends the run instead of leaving it active until garbage collection
        _close_all(started)
        if token is not None:
            _CURRENT.reset(token)


def _unwind(started: list[tuple[_Handler, Call, Any]], exc: BaseException) -> list[BaseException]:
    """Throw the original's exception into each running hook; collect strict-mode errors.

    Every hook is unwound even if one of them raises a BaseException of its own (that one is
    returned first, so it wins over the original's exception, like any exception in a finally).
    """
    errors: list[BaseException] = []
    for handler, call, gen in reversed(started):
        call.exception = exc
        try:
            gen.throw(exc)
        except StopIteration:
            continue
        except BaseException as other:
            if other is exc or (other.__cause__ is exc and isinstance(exc, StopIteration)
                                and isinstance(other, RuntimeError)):
                continue  # the original's exception came back out (PEP 479 wraps StopIteration)
            if not isinstance(other, Exception):
                errors.insert(0, other)  # KeyboardInterrupt in a hook: never swallowed
                continue
            err = report(handler.owner, other, "while handling the exception of the original")
        else:
            gen.close()
            err = report(handler.owner, HookProtocolError("hook yielded again after an exception"),
                         "while handling the exception of the original")
        if err is not None:
            errors.append(err)
    return errors


_CONTAINERS = (list, dict, set, bytearray)


def _snapshot_containers(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    found = [(f"argument {i}", value) for i, value in enumerate(args)]
    found += [(f"argument {name!r}", value) for name, value in kwargs.items()]
    return [(label, value, value.copy()) for label, value in found if type(value) in _CONTAINERS]


def _unchanged(value: Any, before: Any) -> bool:
    if len(value) != len(before):
        return False
    if isinstance(value, dict):
        return all(k in before and before[k] is v for k, v in value.items())
    if isinstance(value, list):
        return all(a is b for a, b in zip(value, before))
    return value == before


def _check_containers(snapshot: list[tuple[str, Any, Any]], handlers: tuple[_Handler, ...],
                      slot: _Slot) -> None:
    for label, value, before in snapshot:
        if not _unchanged(value, before):
            names = ", ".join(dict.fromkeys(h.owner.name for h in handlers))
            raise HookProtocolError(
                f"hook of {names} changed the user's {label} of {slot.attr}() in place; "
                f"pass a copy instead, e.g. call.set_argument(name, [*old, new])")


def _close_all(started: list[tuple[_Handler, Call, Any]]) -> None:
    for _, _, gen in reversed(started):
        try:
            gen.close()
        except Exception:
            pass


def in_autologged_call() -> bool:
    """True while an autologged call (or a carried worker of one) runs in this context."""
    return _CURRENT.get() is not None


# --------------------------------------------------------------------------------------------
# wrappers


class _ModuleRef:
    """Pickles as ``importlib.import_module(name)`` (so unpickling needs no autolog)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __reduce__(self) -> Any:
        return (importlib.import_module, (self.name,))


def _reduce_target(owner: Any) -> Any:
    return _ModuleRef(owner.__name__) if isinstance(owner, ModuleType) else owner


class _BoundAutologWrapper(wrapt.BoundFunctionWrapper):
    """Bound form of :class:`AutologWrapper` (``estimator.fit``); pickles as ``getattr``."""

    def __reduce_ex__(self, protocol: int) -> Any:
        slot = self._self_parent._self_slot
        instance = self._self_instance
        target = instance if instance is not None else (self._self_owner or slot.owner)
        return (getattr, (_reduce_target(target), slot.attr))

    def __reduce__(self) -> Any:
        return self.__reduce_ex__(2)

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        import copy

        instance = self._self_instance
        if instance is None:
            return self
        return getattr(copy.deepcopy(instance, memo), self._self_parent._self_slot.attr)


class AutologWrapper(wrapt.FunctionWrapper):
    """The object autolog puts in place of a patched attribute.

    Looks like the original (name, docstring, signature, ``__wrapped__``); pickles by
    reference as ``getattr(owner, attr)``, so unpickling yields whatever the owner holds then.
    """

    __bound_function_wrapper__ = _BoundAutologWrapper

    def __init__(self, wrapped: Any, slot: _Slot) -> None:
        super().__init__(wrapped, slot.dispatch)
        self._self_slot = slot

    def __reduce_ex__(self, protocol: int) -> Any:
        slot = self._self_slot
        return (getattr, (_reduce_target(slot.owner), slot.attr))

    def __reduce__(self) -> Any:
        return self.__reduce_ex__(2)

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return self


def _is_ours_below(value: Any, wrapper: Any) -> bool:
    """Whether ``wrapper`` is reachable from ``value`` through ``__wrapped__`` links."""
    for _ in range(100):
        if value is wrapper:
            return True
        try:
            value = value.__wrapped__
        except Exception:
            return False
    return False


class _Slot:
    """One patched ``(owner, attr)``: the original, our wrapper, the handlers."""

    __slots__ = ("owner", "attr", "original", "owned", "wrapper", "handlers", "nested_handlers",
                 "gated", "dispatch")

    def __init__(self, owner: Any, attr: str) -> None:
        self.owner = owner
        self.attr = attr
        self.handlers: tuple[_Handler, ...] = ()
        self.nested_handlers: tuple[_Handler, ...] = ()
        self.gated = False  # True when every handler has a ``when`` predicate
        self.dispatch = _make_dispatch(self)
        own = vars(owner)
        if attr in own:
            self.original, self.owned = own[attr], True
        elif isinstance(owner, ModuleType):
            self.original = getattr(owner, attr)  # module __getattr__ (lazy attributes)
            self.owned = False
        else:
            for klass in getattr(owner, "__mro__", ()):
                if attr in klass.__dict__:
                    self.original = klass.__dict__[attr]
                    break
            else:
                raise AttributeError(f"{_describe(owner)} has no attribute {attr!r}")
            self.owned = False
        if isinstance(self.original, property) or not (
            callable(self.original) or hasattr(self.original, "__get__")
        ):
            raise TypeError(f"cannot patch {_describe(owner)}.{attr}: not a function or method")
        self.wrapper = AutologWrapper(self.original, self)
        setattr(owner, attr, self.wrapper)

    def reachable(self) -> bool:
        current = vars(self.owner).get(self.attr, _MISSING)
        return current is self.wrapper or (current is not _MISSING and _is_ours_below(current, self.wrapper))

    def add(self, handler: _Handler) -> bool:
        for existing in self.handlers:
            if existing.owner is handler.owner and existing.hook == handler.hook:
                return False
        self._set((*self.handlers, handler))
        return True

    def remove(self, handler: _Handler) -> None:
        self._set(tuple(h for h in self.handlers if h is not handler))
        if not self.handlers:
            self._revert()

    def _set(self, handlers: tuple[_Handler, ...]) -> None:
        # nested first so a reader never sees a nested handler missing from the full list
        self.nested_handlers = tuple(h for h in handlers if h.nested)
        self.gated = bool(handlers) and all(h.when is not None for h in handlers)
        self.handlers = handlers

    def _revert(self) -> None:
        own = vars(self.owner)
        if own.get(self.attr, _MISSING) is not self.wrapper:
            return  # someone wrapped or replaced ours: stay in place, inert
        if self.owned:
            setattr(self.owner, self.attr, self.original)
        else:
            delattr(self.owner, self.attr)
        key = (id(self.owner), self.attr)
        if _slots.get(key) is self:
            del _slots[key]


def _make_dispatch(slot: _Slot) -> Callable[..., Any]:
    get_current = _CURRENT.get

    def dispatch(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        current = get_current()
        if current is None:
            handlers = slot.handlers
            if handlers and not (slot.gated and _declined(handlers, args, kwargs)):
                return _invoke(slot, handlers, wrapped, instance, args, kwargs, None)
        elif slot.nested_handlers:
            return _invoke(slot, slot.nested_handlers, wrapped, instance, args, kwargs, current)
        return wrapped(*args, **kwargs)

    return dispatch


def _slot_for(owner: Any, attr: str) -> _Slot:
    key = (id(owner), attr)
    slot = _slots.get(key)
    if slot is not None:
        if slot.reachable():
            return slot
        del _slots[key]  # replaced behind our back; start over from what is there now
    slot = _Slot(owner, attr)
    _slots[key] = slot
    return slot


class _SubclassSlot:
    """Our ``__init_subclass__`` on a base class: patches subclasses as they are created."""

    def __init__(self, base: type) -> None:
        self.base = base
        self.watchers: tuple[_SubclassWatch, ...] = ()
        self.original = base.__dict__.get("__init_subclass__", _MISSING)
        slot = self

        def __init_subclass__(cls: type, **kwargs: Any) -> None:
            original = slot.original
            if original is _MISSING:
                super(slot.base, cls).__init_subclass__(**kwargs)
            else:
                original.__get__(None, cls)(**kwargs)
            for watcher in slot.watchers:
                watcher.new_subclass(cls)

        self.hook = classmethod(__init_subclass__)
        base.__init_subclass__ = self.hook  # type: ignore[method-assign]

    def remove(self, watcher: _SubclassWatch) -> None:
        self.watchers = tuple(w for w in self.watchers if w is not watcher)
        if self.watchers:
            return
        if self.base.__dict__.get("__init_subclass__", _MISSING) is not self.hook:
            return  # a later patch sits on top of ours: leave ours in place, inert
        if self.original is _MISSING:
            delattr(self.base, "__init_subclass__")
        else:
            self.base.__init_subclass__ = self.original  # type: ignore[method-assign]
        if _subclass_slots.get(id(self.base)) is self:
            del _subclass_slots[id(self.base)]


class _SubclassWatch:
    __slots__ = ("patcher", "attrs", "hook", "include", "nested")

    def __init__(self, patcher: Patcher, attrs: tuple[str, ...], hook: Callable[[Call], Any],
                 include: Callable[[type], bool] | None, nested: bool) -> None:
        self.patcher = patcher
        self.attrs = attrs
        self.hook = hook
        self.include = include
        self.nested = nested

    def patch_class(self, cls: type) -> None:
        if not any(attr in cls.__dict__ for attr in self.attrs):
            return
        if self.include is not None and not self.include(cls):
            return
        for attr in self.attrs:
            value = cls.__dict__.get(attr, _MISSING)
            # a subclass may shadow the method with a property or None (sklearn does, to hide
            # fit_predict): that class has no such method to record
            if value is not _MISSING and _is_method_like(value):
                self.patcher.wrap(cls, attr, self.hook, nested=self.nested)

    def new_subclass(self, cls: type) -> None:
        if self.patcher.reverted:
            return
        try:
            self.patch_class(cls)
        except Exception as exc:
            err = report(self.patcher.owner, exc, f"while patching new class {cls.__qualname__}")
            if err is not None:
                raise err


def _is_method_like(value: Any) -> bool:
    return not isinstance(value, property) and (callable(value) or hasattr(value, "__get__"))


def _all_subclasses(base: type) -> list[type]:
    found: list[type] = []
    seen = {id(base)}
    todo = [base]
    while todo:
        cls = todo.pop()
        try:
            subs = type.__subclasses__(cls)
        except TypeError:
            continue
        for sub in subs:
            if id(sub) not in seen:
                seen.add(id(sub))
                found.append(sub)
                todo.append(sub)
    return found


# --------------------------------------------------------------------------------------------
# Patcher: what Integration.install() gets


class Patcher:
    """Records what one integration patches, so that :meth:`revert` undoes exactly that.

    Created by the registry for each install (tests may create one with an :class:`Owner`).
    Methods raise TypeError / AttributeError for targets that cannot be patched; the registry
    turns errors raised during ``install`` into one warning (strict mode: raised).
    """

    def __init__(self, owner: Owner) -> None:
        self.owner = owner
        self.reverted = False
        self._handlers: list[tuple[_Slot, _Handler]] = []
        self._watchers: list[tuple[_SubclassSlot, _SubclassWatch]] = []
        self._imports: list[tuple[str, Callable[[ModuleType], None]]] = []

    def wrap(self, owner: Any, attr: str, hook: Callable[[Call], Any], *, nested: bool = False,
             when: Callable[[tuple, dict], bool] | None = None) -> None:
        """Run generator ``hook(call)`` around every call of ``owner.attr``.

        ``owner`` is a module or a class; an attribute the class inherits is patched on this
        class only (and deleted again at revert). ``nested=True``: the hook also runs when an
        autologged call is already in progress. ``when(args, kwargs) -> bool``: a cheap,
        side-effect-free predicate checked first; when it is false (for every hook on the
        attribute) the original is called directly, as if unpatched. Wrapping the same hook
        twice is a no-op.
        """
        self._check_live()
        _check_hook(hook)
        with _lock:
            slot = _slot_for(owner, attr)
            handler = _Handler(self.owner, hook, nested, when)
            if slot.add(handler):
                self._handlers.append((slot, handler))

    def wrap_subclasses(self, base: type, attrs: str | Iterable[str], hook: Callable[[Call], Any], *,
                        include: Callable[[type], bool] | None = None, nested: bool = False) -> None:
        """Wrap each of ``attrs`` on ``base`` and on every subclass -- existing or created
        later -- that defines it in its own ``__dict__`` (so ``super().fit()`` chains are
        nested calls). ``include(cls) -> bool`` filters classes. Future subclasses are caught
        by an ``__init_subclass__`` on ``base``, removed again at revert.
        """
        self._check_live()
        _check_hook(hook)
        names = (attrs,) if isinstance(attrs, str) else tuple(attrs)
        watcher = _SubclassWatch(self, names, hook, include, nested)
        with _lock:
            for cls in (base, *_all_subclasses(base)):
                watcher.patch_class(cls)
            sub_slot = _subclass_slots.get(id(base))
            if sub_slot is None or sub_slot.base is not base:
                sub_slot = _subclass_slots[id(base)] = _SubclassSlot(base)
            sub_slot.watchers = (*sub_slot.watchers, watcher)
            self._watchers.append((sub_slot, watcher))

    def on_import(self, module_name: str, fn: Callable[[ModuleType], None]) -> None:
        """Call ``fn(module)`` now if ``module_name`` is imported, else right after its import
        (and again after each re-import), until revert. A module another thread is still
        importing is handed over once its import completes, never half initialised. Errors in
        ``fn`` are reported like hook errors; they never break the user's import (strict mode:
        raised)."""
        self._check_live()

        def on_module(module: ModuleType) -> None:
            if self.reverted:
                return
            try:
                fn(module)
            except Exception as exc:
                err = report(self.owner, exc, f"while patching {module_name}")
                if err is not None:
                    raise err

        with _lock:
            _importhook.watch(module_name, on_module)
            self._imports.append((module_name, on_module))
        module = _importhook.ready(module_name, on_module)  # None while another thread imports it
        if module is not None:
            on_module(module)

    def revert(self) -> None:
        """Remove every handler, subclass watcher and import hook this patcher added; restore
        attributes no other integration still uses. Idempotent; never raises for targets
        changed by others (a foreign wrapper over ours keeps ours in place, inert)."""
        with _lock:
            self.reverted = True
            for module_name, callback in self._imports:
                _importhook.unwatch(module_name, callback)
            for sub_slot, watcher in reversed(self._watchers):
                sub_slot.remove(watcher)
            for slot, handler in reversed(self._handlers):
                slot.remove(handler)
            self._imports.clear()
            self._watchers.clear()
            self._handlers.clear()

    def _check_live(self) -> None:
        if self.reverted:
            raise RuntimeError("this Patcher was reverted; the integration is being installed again")


def _check_hook(hook: Any) -> None:
    if not callable(hook):
        raise TypeError(f"hook must be a generator function, got {hook!r}")


# --------------------------------------------------------------------------------------------
# helpers for tests and worker threads


def find_wrapper(owner: Any, attr: str) -> AutologWrapper | None:
    """Our wrapper for ``owner.attr`` if autolog has it patched (directly or under a foreign
    wrapper), else None."""
    slot = _slots.get((id(owner), attr))
    if slot is not None and slot.owner is owner and slot.reachable():
        return slot.wrapper
    return None


def is_patched(owner: Any, attr: str) -> bool:
    """Whether ``owner.attr`` currently runs autolog hooks (patched, with live handlers)."""
    slot = _slots.get((id(owner), attr))
    return bool(slot is not None and slot.owner is owner and slot.handlers and slot.reachable())


class _Carried:
    """A callable that runs ``fn`` as part of the autologged call that created it."""

    # fn and the context live in slots, not __dict__: wrappers that copy our __dict__ onto
    # themselves (functools.update_wrapper, as sklearn's _FuncWrapper does) must not pick up
    # the Context, which cannot be pickled for process workers
    __slots__ = ("fn", "_context", "__dict__")

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self._context = contextvars.copy_context()
        functools.update_wrapper(self, fn, updated=())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._context.copy().run(self._run, args, kwargs)

    def _run(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        _CURRENT.set(_CARRIED)
        return self.fn(*args, **kwargs)

    def __reduce__(self) -> Any:
        return (carry_context, (self.fn,))

    def __repr__(self) -> str:
        return f"carry_context({self.fn!r})"


def carry_context(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``fn`` for a worker thread (or process) of an autologged call.

    The returned callable runs ``fn`` in a copy of the creator's context (its active run
    included), marked as nested: patched calls inside create no runs of their own. Picklable
    when ``fn`` is (the copy made when unpickling carries only the nested mark).
    """
    return _Carried(fn)
