"""Restore options: pg_restore flags, what goes together, the wizard's parsing."""

from __future__ import annotations

import pytest

from pgflex_gui.domain.restore_options import (
    RestoreOptions,
    Section,
    parse_object_lines,
    parse_objects,
)


def test_defaults_add_no_flags_and_restore_everything() -> None:
    options = RestoreOptions()
    assert options.default
    assert options.pg_restore_args("sales") == []
    assert options.loads_data()
    assert options.includes_table("sales", "public", "orders")
    assert options.words() == []


def test_flags_per_database() -> None:
    options = RestoreOptions(
        sections=(Section.PRE_DATA, Section.DATA),
        single_transaction=True,
        objects={"sales": ("archive", "public.orders")},
    )
    assert options.pg_restore_args("sales") == [
        "--section=pre-data", "--section=data", "--single-transaction",
        "-n", "archive", "-n", "public", "-t", "orders",
    ]  # fmt: skip
    assert options.pg_restore_args("hr") == ["--section=pre-data", "--section=data",
                                             "--single-transaction"]  # fmt: skip
    assert options.includes_table("sales", "archive", "anything")
    assert options.includes_table("sales", "public", "orders")
    assert not options.includes_table("sales", "public", "customers")
    assert options.includes_table("hr", "public", "payroll")
    assert RestoreOptions(schema_only=True).pg_restore_args("x") == ["--schema-only"]
    assert not RestoreOptions(schema_only=True).loads_data()
    assert not RestoreOptions(sections=(Section.POST_DATA,)).loads_data()


def test_what_does_not_go_together_is_said() -> None:
    assert RestoreOptions(data_only=True, schema_only=True).problems() == [
        "choose data only or schema only, not both"
    ]
    assert RestoreOptions(sections=(Section.DATA,), data_only=True).problems()
    assert RestoreOptions(objects={"db": ("a.b.c",)}).problems() == [
        "db: 'a.b.c' is not a schema or schema.table"
    ]


def test_json_round_trip_and_bad_input() -> None:
    options = RestoreOptions(sections=(Section.POST_DATA,), no_owner=True, objects={"a": ("s",)})
    assert RestoreOptions.from_json(options.to_json()) == options
    assert RestoreOptions.from_json(None) == RestoreOptions()
    with pytest.raises(ValueError):
        RestoreOptions.from_json({"sections": ["everything"]})


def test_parsing_what_the_dba_types() -> None:
    assert parse_objects(" sales, public.orders ,, sales ") == ("sales", "public.orders")
    text = "sales: public.orders, public.customers\n\nhr: payroll\nsales: archive"
    assert parse_object_lines(text) == {
        "sales": ("public.orders", "public.customers", "archive"),
        "hr": ("payroll",),
    }
    with pytest.raises(ValueError, match="line 1"):
        parse_object_lines("public.orders")
