"""The model registry (timm-like): families register a factory and their training recipe here
(`register_model`); `create_model("digitnet", kind="snn"|"cnn", ...)` builds one, `get_recipe` returns
its recipe (neuromap.models.recipe). neuromap.models imports the built-in families."""
from __future__ import annotations

import copy
from typing import Any, Callable, TypeVar

import torch

from neuromap.errors import NeuromapError
from neuromap.models.recipe import ZOO_RECIPE, validate_recipe

KINDS = ("snn", "cnn")

ModelFactory = Callable[..., torch.nn.Module]
_F = TypeVar("_F", bound=ModelFactory)
_REGISTRY: dict[str, ModelFactory] = {}
_RECIPES: dict[str, dict[str, Any]] = {}


def register_model(name: str, recipe: dict[str, Any] | None = None) -> Callable[[_F], _F]:
    """Decorator registering `factory(kind=..., num_classes=..., input_shape=..., **kw)` under `name`,
    with its training recipe (neuromap.models.recipe; default: the zoo's)."""
    checked = validate_recipe(ZOO_RECIPE if recipe is None else recipe)

    def decorate(factory: _F) -> _F:
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            raise ValueError(f"model {name!r} is already registered")
        _REGISTRY[name] = factory
        _RECIPES[name] = checked
        return factory

    return decorate


def list_models() -> list[str]:
    """Names of the registered model families, sorted."""
    return sorted(_REGISTRY)


def get_recipe(name: str) -> dict[str, Any]:
    """A copy of the registered training recipe of model family `name`."""
    if name not in _RECIPES:
        raise NeuromapError(f"unknown model {name!r}; known models: {', '.join(list_models()) or '(none)'}")
    return copy.deepcopy(_RECIPES[name])


def create_model(
    name: str,
    kind: str = "snn",
    num_classes: int = 10,
    input_shape: tuple[int, ...] = (1, 8, 8),
    **kw: Any,
) -> torch.nn.Module:
    """Build the `kind` twin ("snn": SLAYER blocks; "cnn": ReLU CNN) of the registered model `name`."""
    if name not in _REGISTRY:
        known = ", ".join(list_models()) or "(none)"
        raise NeuromapError(f"unknown model {name!r}; known models: {known}")
    if kind not in KINDS:
        raise NeuromapError(f"unknown model kind {kind!r}; use one of: {', '.join(KINDS)}")
    return _REGISTRY[name](kind=kind, num_classes=int(num_classes), input_shape=tuple(input_shape), **kw)
