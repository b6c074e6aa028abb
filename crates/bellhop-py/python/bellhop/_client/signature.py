"""Giving a method the parameters of a function, so that a parameter list is written and
described once for the methods of both clients that take it (``create_collection``,
``search``, ``ask`` and ``ask_stream``)."""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any, Callable, TypeVar, cast

if TYPE_CHECKING:
    from typing_extensions import Concatenate, ParamSpec

    P = ParamSpec("P")

S = TypeVar("S")
R = TypeVar("R")
B = TypeVar("B")


def _args_section(doc: str | None) -> str:
    """A docstring's ``Args:`` section, to its end."""
    cleaned = inspect.cleandoc(doc or "")
    return cleaned[cleaned.index("Args:") :]


def _forward(method: Any, build: Callable[..., Any]) -> Any:
    """``(self, *args, **kwargs) -> method(self, build(*args, **kwargs))``, a coroutine
    function when ``method`` is one (``build`` then runs when it is awaited)."""
    if inspect.iscoroutinefunction(method):

        async def forward_awaited(self: Any, *args: Any, **kwargs: Any) -> Any:
            return await method(self, build(*args, **kwargs))

        return forward_awaited

    def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
        return method(self, build(*args, **kwargs))

    return forward


def takes_params_of(
    build: Callable[P, B],
) -> Callable[[Callable[[S, B], R]], Callable[Concatenate[S, P], R]]:
    """A decorator that gives a method ``method(self, built)`` the parameters of ``build``:
    the method takes ``build``'s signature, is passed what ``build`` makes of its
    arguments, and its docstring gains ``build``'s ``Args`` section."""
    build_signature = inspect.signature(build)
    build_annotations = {
        name: value for name, value in build.__annotations__.items() if name != "return"
    }
    args_section = _args_section(build.__doc__)

    def decorate(method: Callable[[S, B], R]) -> Callable[Concatenate[S, P], R]:
        with_params: Any = functools.update_wrapper(_forward(method, build), method)
        method_signature = inspect.signature(method)
        self_parameter = next(iter(method_signature.parameters.values()))
        with_params.__signature__ = build_signature.replace(
            parameters=[self_parameter, *build_signature.parameters.values()],
            return_annotation=method_signature.return_annotation,
        )
        with_params.__annotations__ = {
            **build_annotations,
            "return": method_signature.return_annotation,
        }
        with_params.__doc__ = f"{inspect.cleandoc(method.__doc__ or '')}\n\n{args_section}"
        return cast("Callable[Concatenate[S, P], R]", with_params)

    return decorate
