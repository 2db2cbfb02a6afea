"""SQLAlchemy statements compiled once per dialect, and the typed queries built on them.

A ``Statement`` wraps a SQLAlchemy Core or ORM-enabled statement whose inputs are named
``bindparam``s. The first time it runs on a dialect it is compiled by SQLAlchemy, and what
execution needs is kept: the SQL text, the order of the positional parameters, and
SQLAlchemy's own bind and result processors for every parameter and column (so
``UTCDateTime`` and every dialect-specific conversion apply exactly as SQLAlchemy would
apply them). Later runs only convert values and call the driver: no statement building,
no cache-key computation, no ORM loading on the event loop.

A ``Query[T]`` is one statement with its parameter values and a function that shapes the
raw rows into the ``T`` the caller gets (a model, a list of models, a number). Queries do no
I/O; ``Database`` runs them, alone or several in one unit of work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import Column
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlalchemy.sql import ClauseElement, ColumnElement
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler

T = TypeVar("T")
ModelT = TypeVar("ModelT", bound=DeclarativeBase)
Row = Sequence[Any]
Processor = Callable[[Any], Any]
Builder = Callable[[str], Executable]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A statement compiled for one dialect: SQL text plus value conversions."""

    sql: str
    names: tuple[str, ...]
    binders: tuple[Processor | None, ...]
    defaults: Mapping[str, Any]
    readers: tuple[tuple[int, Processor], ...]

    def arguments(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """The positional parameters for the driver, converted by SQLAlchemy's processors."""
        values = []
        for name, binder in zip(self.names, self.binders, strict=True):
            value = params[name] if name in params else self.defaults[name]
            values.append(value if binder is None or value is None else binder(value))
        return tuple(values)

    def arguments_many(self, batch: Iterable[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """``arguments`` for every parameter set of an executemany.

        A value that is the same object as in the previous set (a shared timestamp) is
        converted once, not once per row.
        """
        last_in: list[Any] = [object()] * len(self.names)
        last_out: list[Any] = [None] * len(self.names)
        out: list[tuple[Any, ...]] = []
        positions = tuple(enumerate(zip(self.names, self.binders, strict=True)))
        for params in batch:
            values = []
            for index, (name, binder) in positions:
                value = params[name] if name in params else self.defaults[name]
                if binder is not None and value is not None:
                    if value is last_in[index]:
                        value = last_out[index]
                    else:
                        last_in[index] = value
                        value = last_out[index] = binder(value)
                values.append(value)
            out.append(tuple(values))
        return out

    def rows(self, raw: Iterable[Row]) -> list[Row]:
        """The driver's rows with SQLAlchemy's result processors applied."""
        if not self.readers:
            return list(raw)
        out: list[Row] = []
        for row in raw:
            values = list(row)
            for index, reader in self.readers:
                value = values[index]
                if value is not None:
                    values[index] = reader(value)
            out.append(values)
        return out


class Statement:
    """A SQLAlchemy statement run through ``Database``, compiled once per dialect.

    ``build`` is the statement itself, or a function of the dialect's name for statements
    that differ by dialect (``INSERT … ON CONFLICT`` comes from each dialect's own module).
    Every value the statement needs is a ``bindparam`` or a literal; column defaults that
    SQLAlchemy would compute at execution time are refused, so nothing is silently missed.
    """

    __slots__ = ("_build", "_prepared", "columns", "name")

    def __init__(self, build: Executable | Builder, *, name: str) -> None:
        self.name = name
        self._build: Builder = build if callable(build) else (lambda _dialect: build)
        self._prepared: dict[str, Prepared] = {}
        self.columns: tuple[str, ...] = _column_names(self._build("sqlite"))

    def __repr__(self) -> str:
        return f"<Statement {self.name}>"

    def prepare(self, dialect: Dialect) -> Prepared:
        """The statement compiled for ``dialect`` (compiled on first use, then cached)."""
        prepared = self._prepared.get(dialect.name)
        if prepared is None:
            prepared = self._compile(dialect)
            self._prepared[dialect.name] = prepared
        return prepared

    def _compile(self, dialect: Dialect) -> Prepared:
        statement = self._build(dialect.name)
        compiled = cast(SQLCompiler, cast(ClauseElement, statement).compile(dialect=dialect))
        if compiled.insert_prefetch or compiled.update_prefetch:
            raise ValueError(
                f"{self.name}: give every column a value; Python-side column defaults "
                "are not applied outside SQLAlchemy's execution"
            )
        if "POSTCOMPILE" in compiled.string:
            raise ValueError(f"{self.name}: IN lists are expanded at execution; use = / != terms")
        names = tuple(compiled.positiontup or ())
        binders: list[Processor | None] = []
        defaults: dict[str, Any] = {}
        for name in names:
            bind = compiled.binds[name]
            binders.append(bind.type.dialect_impl(dialect).bind_processor(dialect))
            if not bind.required:
                defaults[name] = bind.effective_value
        readers: list[tuple[int, Processor]] = []
        for index, column in enumerate(_columns(statement)):
            reader = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if reader is not None:
                readers.append((index, reader))
        return Prepared(compiled.string, names, tuple(binders), defaults, tuple(readers))


def _columns(statement: Executable) -> list[ColumnElement[Any]]:
    exported = getattr(statement, "exported_columns", None)
    return list(exported) if exported is not None else []


def _column_names(statement: Executable) -> tuple[str, ...]:
    return tuple(str(column.key) for column in _columns(statement))


@dataclass(frozen=True, slots=True)
class Query(Generic[T]):
    """One statement with its parameters and the shape of its result; no I/O.

    ``many`` holds a list of parameter sets for an ``executemany`` (then ``params`` is
    ignored and the result is shaped from no rows).
    """

    statement: Statement
    params: Mapping[str, Any]
    shape: Callable[[list[Row]], T]
    many: Sequence[Mapping[str, Any]] | None = None


# Result shapes, named after SQLAlchemy's Result methods the original sketch used.


def rows(found: list[Row]) -> list[Row]:
    """Every row (``result.all()``)."""
    return found


def scalars(found: list[Row]) -> list[Any]:
    """The first column of every row (``result.scalars().all()``)."""
    return [row[0] for row in found]


def scalar_one_or_none(found: list[Row]) -> Any:
    """The first column of the only row, or None (``result.scalar_one_or_none()``)."""
    if len(found) > 1:
        raise ValueError(f"expected at most one row, got {len(found)}")
    return found[0][0] if found else None


def scalar_one(found: list[Row]) -> Any:
    """The first column of the only row (``result.scalar_one()``)."""
    if len(found) != 1:
        raise ValueError(f"expected exactly one row, got {len(found)}")
    return found[0][0]


def nothing(_found: list[Row]) -> None:
    return None


def row_count(found: list[Row]) -> int:
    """How many rows a ``… RETURNING`` statement touched."""
    return len(found)


class ModelShape(Generic[ModelT]):
    """Builds detached model instances from rows holding every column of the model.

    The instances are made as SQLAlchemy's own loader makes them (a new instance, its
    attribute dictionary filled), without a session: nothing can load later, and every
    column is present, so ``to_dict()`` and attribute access never touch the database.
    """

    def __init__(self, model: type[ModelT], statement: Statement, *, offset: int = 0) -> None:
        table_columns = [c for c in model.__table__.columns if isinstance(c, Column)]
        keys = tuple(str(c.key) for c in table_columns)
        selected = statement.columns[offset : offset + len(keys)]
        if selected != keys:
            raise ValueError(
                f"{statement.name}: columns {selected} at {offset} are not those of "
                f"{model.__name__} {keys}"
            )
        self._keys = keys
        self._offset = offset
        self._manager = manager_of_class(model)

    def make(self, row: Row) -> ModelT:
        instance = self._manager.new_instance()
        end = self._offset + len(self._keys)
        instance.__dict__.update(zip(self._keys, row[self._offset : end], strict=True))
        return instance

    def one_or_none(self, found: list[Row]) -> ModelT | None:
        if len(found) > 1:
            raise ValueError(f"expected at most one row, got {len(found)}")
        return self.make(found[0]) if found else None

    def all(self, found: list[Row]) -> list[ModelT]:
        return [self.make(row) for row in found]

    def first(self, found: list[Row]) -> ModelT | None:
        return self.make(found[0]) if found else None
