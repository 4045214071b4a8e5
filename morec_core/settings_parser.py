"""The strict reader of settings: a value checked against a dataclass field's annotation (an
int is taken for a float, a list for a tuple; bool is never taken for a number), a section built
from a mapping that may name only its fields, and an override's text parsed into the field's
type, never eval'd. RunSpec (morec_core.config) reads its sections and `--set` through it.
"""

from __future__ import annotations

import types
import typing
from typing import Any, TypeVar


class ConfigError(ValueError):
    """A spec or an override that does not fit the schema; the message names the key."""


def field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


Section = TypeVar("Section")


def build_section(section_type: type[Section], raw: Any, name: str) -> Section:
    if isinstance(raw, section_type):
        return raw
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: expected a mapping, got {type(raw).__name__}")
    hints = field_types(section_type)
    unknown = sorted(set(raw) - set(hints))
    if unknown:
        raise ConfigError(f"unknown key {name}.{unknown[0]}; known: {', '.join(hints)}")
    values = {key: check_type(value, hints[key], f"{name}.{key}") for key, value in raw.items()}
    return section_type(**values)


def check_type(value: Any, expected: Any, key: str) -> Any:
    """Return value if it fits the annotation (an int is accepted for a float), else raise."""
    origin = typing.get_origin(expected)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__}")
        (item_type, _ellipsis) = typing.get_args(expected)
        return tuple(check_type(item, item_type, key) for item in value)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(expected):
            try:
                return check_type(value, option, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: expected {expected}, got {type(value).__name__}")
    if expected is type(None):
        if value is None:
            return None
        raise ConfigError(f"{key}: expected null, got {type(value).__name__}")
    # bool is a subclass of int: reject True where a number is expected, and 1 where a bool is.
    if expected is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if expected is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if expected in (str, bool) and type(value) is expected:
        return value
    raise ConfigError(f"{key}: expected {getattr(expected, '__name__', expected)}, "
                      f"got {type(value).__name__} {value!r}")


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def parse_value(text: str, expected: Any, key: str) -> Any:
    """Parse an override's text into the field's type; never eval."""
    origin = typing.get_origin(expected)
    if origin is tuple:
        (item_type, _ellipsis) = typing.get_args(expected)
        parts = [part.strip() for part in text.split(",") if part.strip()]
        return [parse_value(part, item_type, key) for part in parts]
    try:
        if expected is bool:
            lowered = text.lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError(text)
        if expected is int:
            return int(text)
        if expected is float:
            return float(text)
    except ValueError:
        name = getattr(expected, "__name__", str(expected))
        raise ConfigError(f"{key}: cannot read {text!r} as {name}") from None
    return text
