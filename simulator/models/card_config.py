"""A mixin for the frozen dataclass configs that model cards store as JSON."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, TypeVar

__all__ = ["CardConfig"]

_C = TypeVar("_C", bound="CardConfig")


class CardConfig:
    """``to_dict``/``from_dict`` for a dataclass config: tuples are written as JSON lists and
    read back as tuples, so ``cls.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg``."""

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[_C], d: dict[str, Any]) -> _C:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})
