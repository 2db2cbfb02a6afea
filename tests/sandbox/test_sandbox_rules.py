"""Discord's body rules, checked directly: each breach names its field path."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.rules import (
    FormErrors,
    check_autocomplete,
    check_command,
    check_message,
    check_modal,
    is_empty_message,
)


def _paths(body: dict[str, Any]) -> list[str]:
    errors = FormErrors()
    check_message(body, errors, ("data",))
    return errors.paths


def _row(*buttons: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(buttons)}


def _button(label: str = "Go", custom_id: str = "go", **extra: Any) -> dict[str, Any]:
    return {"type": 2, "style": 1, "label": label, "custom_id": custom_id} | extra


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"content": "x" * 2001}, "data.content"),
        ({"embeds": [{"title": "t"}] * 11}, "data.embeds"),
        ({"embeds": [{"title": "t" * 257}]}, "data.embeds.0.title"),
        ({"embeds": [{"description": "d" * 4097}]}, "data.embeds.0.description"),
        ({"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]}, "data.embeds.0.fields"),
        (
            {"embeds": [{"fields": [{"name": "n" * 257, "value": "v"}]}]},
            "data.embeds.0.fields.0.name",
        ),
        (
            {"embeds": [{"fields": [{"name": "n", "value": "v" * 1025}]}]},
            "data.embeds.0.fields.0.value",
        ),
        ({"embeds": [{"fields": [{"name": "n"}]}]}, "data.embeds.0.fields.0.value"),
        ({"embeds": [{"footer": {"text": "f" * 2049}}]}, "data.embeds.0.footer.text"),
        ({"embeds": [{"author": {"name": "a" * 257}}]}, "data.embeds.0.author.name"),
        ({"embeds": [{"description": "d" * 4000}, {"description": "d" * 2001}]}, "data.embeds"),
        ({"components": [_row(_button(custom_id=str(i))) for i in range(6)]}, "data.components"),
        (
            {"components": [_row(*[_button(custom_id=str(i)) for i in range(6)])]},
            "data.components.0.components",
        ),
        ({"components": [_row(_button(label="l" * 81))]}, "data.components.0.components.0.label"),
        (
            {"components": [_row(_button(custom_id="c" * 101))]},
            "data.components.0.components.0.custom_id",
        ),
        ({"components": [_row(_button(custom_id=""))]}, "data.components.0.components.0.custom_id"),
        ({"components": [_row(_button(), _button())]}, "data.components.0.components.1.custom_id"),
        (
            {"components": [_row({"type": 2, "style": 5, "label": "Docs"})]},
            "data.components.0.components.0.url",
        ),
        ({"allowed_mentions": {"parse": ["users"], "users": ["1"]}}, "data.allowed_mentions.parse"),
    ],
)
def test_message_rules(body: dict[str, Any], path: str) -> None:
    assert path in _paths(body)


def test_valid_message_passes() -> None:
    body = {
        "content": "c" * 2000,
        "embeds": [
            {
                "title": "t" * 256,
                "description": "d" * 4096,
                "fields": [{"name": "n", "value": "v"}] * 25,
            }
        ],
        "components": [_row(*[_button(custom_id=f"{r}-{i}") for i in range(5)]) for r in range(5)],
        "allowed_mentions": {"parse": []},
    }
    # 256 + 4096 + 25 * 2 = 4402 characters: under the 6000 total.
    assert _paths(body) == []


def test_error_body_nests_paths_like_discord() -> None:
    errors = FormErrors()
    check_message({"embeds": [{"title": "t" * 300}]}, errors)
    assert errors.body() == {
        "code": 50035,
        "message": "Invalid Form Body",
        "errors": {
            "embeds": {
                "0": {
                    "title": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_MAX_LENGTH",
                                "message": "Must be 256 or fewer in length.",
                            }
                        ]
                    }
                }
            }
        },
    }


def test_empty_message() -> None:
    assert is_empty_message({}, has_files=False)
    assert is_empty_message({"content": ""}, has_files=False)
    assert not is_empty_message({}, has_files=True)
    assert not is_empty_message({"embeds": [{"title": "t"}]}, has_files=False)


@pytest.mark.parametrize(
    ("choices", "path"),
    [
        ([{"name": str(i), "value": str(i)} for i in range(26)], "data.choices"),
        ([{"name": "", "value": "v"}], "data.choices.0.name"),
        ([{"name": "n" * 101, "value": "v"}], "data.choices.0.name"),
        ([{"name": "n", "value": "v" * 101}], "data.choices.0.value"),
    ],
)
def test_autocomplete_rules(choices: list[dict[str, Any]], path: str) -> None:
    errors = FormErrors()
    check_autocomplete({"choices": choices}, errors, ("data",))
    assert path in errors.paths


def test_modal_rules() -> None:
    def text_input(**extra: Any) -> dict[str, Any]:
        return {
            "type": 1,
            "components": [{"type": 4, "custom_id": "t", "style": 1, "label": "Topic"} | extra],
        }

    errors = FormErrors()
    check_modal(
        {"custom_id": "m", "title": "T" * 46, "components": [text_input(max_length=4001)]},
        errors,
        ("data",),
    )
    assert errors.paths == ["data.title", "data.components.0.components.0.max_length"]
    errors = FormErrors()
    check_modal(
        {"custom_id": "m", "title": "T", "components": [text_input()] * 6}, errors, ("data",)
    )
    assert "data.components" in errors.paths
    errors = FormErrors()
    check_modal({"custom_id": "m", "title": "T", "components": [text_input()]}, errors, ("data",))
    assert not errors


def test_context_menu_commands_allow_capitals_and_no_description() -> None:
    errors = FormErrors()
    check_command({"name": "Report Message", "type": 3, "description": ""}, errors, ())
    assert not errors
    check_command({"name": "Report Message", "type": 1, "description": "d"}, errors, ())
    assert errors.paths == ["name"]
