"""Every client call's arguments, checked at its entry, before anything is started or written.

    @refuses(SchedulingError)
    async def cancel(self, job_id: str, *, by: DiscordId, guild_id: DiscordId, as_host: bool = False)

`refuses(error)` checks each argument against its annotation, strictly ("5" is no number, 1 is
not True, "x" is no settings object), and raises the feature's `error` (a `UserError`) with one
line naming the argument, in words a user can read, before the body runs. A plain `str`, `int`
or `timedelta` is bounded (MAX_TEXT, MAX_INT, MAX_SPAN) before any arithmetic; `DiscordId` is
the project's `Snowflake`, refusing any other shape before it is printed; `JsonData` is JSON
bounded in depth and items, so nothing after it recurses past Python's limit or walks a value
the server would refuse anyway. An argument whose type pydantic cannot check (a Temporal
client, a store, a settings backend) is taken as given, and a default left in place is the
method's own, so it is not checked.
"""

from __future__ import annotations

import functools
import inspect
import math
import types
import typing
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Annotated, Any, ParamSpec, TypeVar, cast

from pydantic import AfterValidator, BeforeValidator, Field, JsonValue, TypeAdapter, ValidationError
from pydantic.errors import PydanticSchemaGenerationError

from workflows.common import Snowflake, first_error

P = ParamSpec("P")
R = TypeVar("R")

# The longest text any argument carries unless its annotation says otherwise: Discord's longest
# message or modal field is 4,000 characters.
MAX_TEXT = 4000
# JSON nested deeper than this is no game's state; Python's own JSON and repr stop near 1,000.
MAX_DEPTH = 64
# Past this many values, JSON is past every size the server takes (a value is at least a byte).
MAX_ITEMS = 1024 * 1024
# Past any count, page or version a call takes, and inside what JSON carries exactly.
MAX_INT = 2**53
# Past any wait, shift or window a call takes (each checks its own, shorter, limit after this),
# and far inside what datetime arithmetic can add without overflowing.
MAX_SPAN = timedelta(days=10 * 366)
# A refusal is one line.
MAX_MESSAGE = 300

ID_WORDS = "a Discord id is a whole number written in digits"


def _id_shape(value: object) -> object:
    # Before Snowflake's own check, which prints the value: a list 10,000 deep cannot be printed.
    if isinstance(value, bool) or not isinstance(value, int | str) or len(str(value)) > 20:
        raise ValueError(ID_WORDS)
    return value


def _int_range(value: int) -> int:
    if abs(value) > MAX_INT:
        raise ValueError(f"is out of range (at most {MAX_INT:,} either way)")
    return value


def _span(value: timedelta) -> timedelta:
    if abs(value) > MAX_SPAN:
        raise ValueError(f"is longer than {MAX_SPAN.days:,} days")
    return value


def _json_shape(value: object) -> object:
    """Refuse JSON nested past MAX_DEPTH or holding more than MAX_ITEMS values, or a number JSON
    cannot write, walking it without recursion (pydantic and `json` recurse)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    items = 0
    while stack:
        item, depth = stack.pop()
        items += 1
        if depth > MAX_DEPTH:
            raise ValueError(f"is nested more than {MAX_DEPTH} levels deep")
        if items > MAX_ITEMS:
            raise ValueError(f"holds more than {MAX_ITEMS:,} values")
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError("holds a number that JSON cannot write")
    return value


# A Discord id (guild, channel, member, role, message), as the models keep it.
DiscordId = Annotated[Snowflake, BeforeValidator(_id_shape)]
# Any JSON a store or a payload may hold, bounded (see _json_shape).
JsonData = Annotated[JsonValue, BeforeValidator(_json_shape)]
JsonObject = Annotated[dict[str, JsonValue], BeforeValidator(_json_shape)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
Int = Annotated[int, AfterValidator(_int_range)]
Span = Annotated[timedelta, AfterValidator(_span)]


def words(name: str) -> str:
    """An argument's name as words: `guild_id` -> "guild id", `round_` -> "round"."""
    return name.strip("_").replace("_", " ")


def refusal_line(where: str, what: str) -> str:
    line = f"{where}: {what}"
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 1] + "…"


def refuses(error: Callable[[str], Exception]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Check the function's arguments at entry (see the module docstring); `error(message)` for
    the first that does not fit."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(fn)
        # Built at the first call: annotations may name classes defined after the function.
        adapters: dict[str, TypeAdapter[Any]] | None = None

        def check(args: tuple[Any, ...], kwargs: dict[str, Any]) -> inspect.BoundArguments:
            nonlocal adapters
            if adapters is None:
                adapters = _adapters(fn, signature)
            bound = signature.bind(*args, **kwargs)
            for name, value in bound.arguments.items():
                adapter = adapters.get(name)
                if adapter is None or value is signature.parameters[name].default:
                    continue
                try:
                    bound.arguments[name] = adapter.validate_python(value, strict=True)
                except ValidationError as err:
                    raise error(refusal_line(words(name), first_error(err))) from None
                except RecursionError:  # a type of the models' own that recursed: never crash
                    raise error(refusal_line(words(name), "is nested too deeply")) from None
            return bound

        if inspect.iscoroutinefunction(fn):
            coroutine = cast(Callable[..., Coroutine[Any, Any, Any]], fn)

            @functools.wraps(fn)
            async def checked_async(*args: Any, **kwargs: Any) -> Any:
                bound = check(args, kwargs)
                return await coroutine(*bound.args, **bound.kwargs)

            return cast(Callable[P, R], checked_async)

        @functools.wraps(fn)
        def checked(*args: Any, **kwargs: Any) -> Any:
            bound = check(args, kwargs)
            return fn(*bound.args, **bound.kwargs)

        return cast(Callable[P, R], checked)

    return decorate


def _adapters(fn: Callable[..., Any], signature: inspect.Signature) -> dict[str, TypeAdapter[Any]]:
    """An adapter per argument pydantic can check; `self`, `cls` and the rest are left out."""
    namespace = getattr(fn, "__globals__", {})
    found: dict[str, TypeAdapter[Any]] = {}
    for name, parameter in signature.parameters.items():
        if name in ("self", "cls") or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        hint: Any = parameter.annotation
        if hint is parameter.empty:
            continue
        if isinstance(hint, str):
            try:
                hint = eval(hint, namespace)
            except Exception:  # a name only imported for type checking: not checked here
                continue
        if hint is Any:
            continue
        try:
            found[name] = TypeAdapter(_bounded(hint))
        except PydanticSchemaGenerationError:
            continue  # a client, a store, a backend: taken as given
    return found


def _bounded(hint: Any) -> Any:
    """`str`, `int` and `timedelta` bounded (Text, Int, Span), also inside `X | None`."""
    plain = {str: Text, int: Int, timedelta: Span}
    if hint in plain:
        return plain[hint]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.Union[tuple(_bounded(arg) for arg in typing.get_args(hint))]  # noqa: UP007
    return hint
