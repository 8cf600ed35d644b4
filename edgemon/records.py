"""Dataclasses with an exact JSON round trip, for results other programs read.

A :class:`Record` is a dataclass whose fields are the keys of a JSON object. ``from_dict``
reads such an object (nested records included), ``to_dict`` writes it back: the same keys
(a key that was absent stays absent, a key that was present with ``null`` stays ``null``),
and keys this version has no field for are carried along in ``extra``, so a reader never
loses what a newer writer added. A record built in code writes its fields that are not None,
plus those declared ``nullable`` (always present, possibly null).

Each field says what it is (``doc``), which makes the schema printable
(:func:`schema_rows`) and testable (:func:`unknown_keys`, :func:`type_errors`). ``record[key]``
reads the JSON value under a key, for code written against the plain object.
Standard library only.
"""

from __future__ import annotations

from dataclasses import Field, field, fields
from typing import Any, Iterator, TypeVar

R = TypeVar("R", bound="Record")

def value(doc: str, default: Any = None, *, nullable: bool = False) -> Any:
    """A plain JSON value (number, string, bool, list or object of them)."""
    return field(default=default, metadata={"doc": doc, "nullable": nullable})


def mapping(doc: str) -> Any:
    """A JSON object of plain values, absent by default."""
    return field(default=None, metadata={"doc": doc})


def one(record: type[Record], doc: str, *, nullable: bool = False) -> Any:
    """A nested record (absent by default)."""
    return field(default=None, metadata={"doc": doc, "record": record, "nullable": nullable})


def many(record: type[Record], doc: str, *, empty: bool = False) -> Any:
    """A list of nested records (absent by default; ``empty``: an empty list by default)."""
    if empty:
        return field(default_factory=list, metadata={"doc": doc, "records": record})
    return field(default=None, metadata={"doc": doc, "records": record})


class Record:
    """Base of the JSON-backed dataclasses (subclasses are ``@dataclass``); see the module docstring.

    Not a dataclass itself, so a subclass's fields come first and can be given by position.
    """

    # Set by from_dict: the keys the object was read with, in order (None: built in code).
    _keys: tuple[str, ...] | None = None

    @property
    def extra(self) -> dict[str, Any]:
        """Keys no field describes, with their values (kept for the round trip)."""
        return self.__dict__.setdefault("_extra", {})

    @classmethod
    def json_fields(cls) -> tuple[Field, ...]:
        return fields(cls)  # type: ignore[arg-type]  # every Record subclass is a dataclass

    @classmethod
    def from_dict(cls: type[R], data: Any) -> R:
        """The record for a JSON object; anything that is not an object reads as an empty record."""
        if not isinstance(data, dict):
            data = {}
        known = {f.name: f for f in cls.json_fields()}
        kwargs: dict[str, Any] = {}
        for name, f in known.items():
            if name not in data:
                continue
            raw = data[name]
            nested = f.metadata.get("record")
            if nested is not None and isinstance(raw, dict):
                kwargs[name] = nested.from_dict(raw)
            elif f.metadata.get("records") is not None and isinstance(raw, list):
                kwargs[name] = [f.metadata["records"].from_dict(item) if isinstance(item, dict) else item
                                for item in raw]
            else:
                kwargs[name] = raw
        record = cls(**kwargs)
        record.extra.update((k, v) for k, v in data.items() if k not in known)
        record._keys = tuple(data)
        return record

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: the keys it was read with (in order), or the fields that are set."""
        by_name = {f.name: f for f in self.json_fields()}
        if self._keys is not None:
            names = list(self._keys)
        else:
            names = [n for n, f in by_name.items() if getattr(self, n) is not None or f.metadata.get("nullable")]
        out: dict[str, Any] = {}
        for name in names:
            if name in by_name:
                out[name] = _dump(getattr(self, name))
            elif name in self.extra:
                out[name] = self.extra[name]
        for name, v in self.extra.items():       # added after reading, or built in code
            out.setdefault(name, v)
        return out

    def get(self, key: str, default: Any = None) -> Any:
        """The JSON value under ``key``, or ``default``: for code written against the plain object."""
        try:
            return self[key]
        except KeyError:
            return default

    def __getitem__(self, key: str) -> Any:
        """The JSON value under ``key``, as ``to_dict()[key]`` (KeyError when the object lacks it)."""
        names = {f.name for f in self.json_fields()}
        if key in names and (self._keys is None or key in self._keys) and \
                (self._keys is not None or getattr(self, key) is not None):
            return _dump(getattr(self, key))
        return self.extra[key]


def _dump(v: Any) -> Any:
    if isinstance(v, Record):
        return v.to_dict()
    if isinstance(v, list):
        return [_dump(x) for x in v]
    return v


# ---------------------------------------------------------------------------- the schema


def schema_rows(cls: type[Record], prefix: str = "") -> Iterator[tuple[str, str, str]]:
    """``(path, type, description)`` for every field, nested records depth first (``throttling.episodes[].cause``)."""
    for f in cls.json_fields():
        path = f"{prefix}{f.name}"
        nested = f.metadata.get("record")
        items = f.metadata.get("records")
        kind = str(f.type)
        if nested is not None:
            kind = "object"
        elif items is not None:
            kind = "list of objects"
        yield path, kind, f.metadata.get("doc", "")
        if nested is not None:
            yield from schema_rows(nested, path + ".")
        if items is not None:
            yield from schema_rows(items, path + "[].")


def unknown_keys(record: Record, prefix: str = "") -> list[str]:
    """Paths of keys no field describes, at every depth (an empty list: the schema covers it all)."""
    out = [prefix + k for k in record.extra]
    for f in record.json_fields():
        v = getattr(record, f.name)
        if isinstance(v, Record):
            out += unknown_keys(v, f"{prefix}{f.name}.")
        elif isinstance(v, list):
            for item in v:
                if isinstance(item, Record):
                    out += unknown_keys(item, f"{prefix}{f.name}[].")
    return sorted(set(out))


_SCALARS: dict[str, tuple[type, ...]] = {
    "float": (float, int), "int": (int,), "str": (str,), "bool": (bool,), "None": (type(None),),
}


def type_errors(record: Record, prefix: str = "") -> list[str]:
    """Fields whose value does not have the declared type (scalars, ``X | None``, ``dict[..]``, ``list[..]``)."""
    out = []
    for f in record.json_fields():
        v = getattr(record, f.name)
        if record._keys is not None and f.name not in record._keys:
            continue
        path = prefix + f.name
        if isinstance(v, Record):
            out += type_errors(v, path + ".")
            continue
        if isinstance(v, list) and f.metadata.get("records") is not None:
            for item in v:
                if isinstance(item, Record):
                    out += type_errors(item, path + "[].")
            continue
        if not _fits(v, str(f.type)):
            out.append(f"{path}: {type(v).__name__} {v!r:.60} is not {f.type}")
    return out


def _fits(v: Any, annotation: str) -> bool:
    for part in (p.strip() for p in annotation.split("|")):
        if part in _SCALARS:
            if isinstance(v, bool) and part in ("int", "float"):
                continue
            if isinstance(v, _SCALARS[part]):
                return True
        elif part.startswith("dict") and isinstance(v, dict):
            return True
        elif part.startswith("list") and isinstance(v, list):
            return True
        elif part == "Any":
            return True
    return False
