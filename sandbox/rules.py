"""Discord's validation rules for message, component, modal, autocomplete and command bodies.

Each checker adds what Discord would reject to a `FormErrors`, which renders the
400 body Discord sends: ``{"code": 50035, "message": "Invalid Form Body", "errors": {...}}``
with the offending field's path spelled out as nested keys.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

JSON = dict[str, Any]
Path = tuple[str | int, ...]

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_MAX = 2048
EMBED_AUTHOR_MAX = 256
ACTION_ROWS_MAX = 5
ROW_BUTTONS_MAX = 5
CUSTOM_ID_MAX = 100
BUTTON_LABEL_MAX = 80
SELECT_OPTIONS_MAX = 25
SELECT_PLACEHOLDER_MAX = 150
SELECT_OPTION_TEXT_MAX = 100
V2_COMPONENTS_MAX = 40
CHOICES_MAX = 25
CHOICE_NAME_MAX = 100
CHOICE_VALUE_MAX = 100
MODAL_TITLE_MAX = 45
MODAL_LABEL_MAX = 45
TEXT_INPUT_MAX = 4000
COMMAND_NAME_MAX = 32
COMMAND_DESCRIPTION_MAX = 100
OPTIONS_MAX = 25
CHAT_INPUT_COMMANDS_MAX = 100
CONTEXT_MENU_COMMANDS_MAX = 5

EPHEMERAL = 1 << 6
LOADING = 1 << 7
SUPPRESS_EMBEDS = 1 << 2
SUPPRESS_NOTIFICATIONS = 1 << 12
IS_COMPONENTS_V2 = 1 << 15
SENDABLE_FLAGS = EPHEMERAL | SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2

# Discord's own pattern, less the Devanagari/Thai script classes Python's `re` lacks.
COMMAND_NAME_RE = re.compile(r"^[-_'\w]{1,32}$")

BUTTON_LINK = 5
BUTTON_PREMIUM = 6
SELECT_TYPES = frozenset({3, 5, 6, 7, 8})
CHAT_INPUT = 1
SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2
STRING = 3
INTEGER = 4
NUMBER = 10
OPTION_TYPES = frozenset(range(1, 12))


class FormErrors:
    """Collects field errors in Discord's nested ``_errors`` shape."""

    def __init__(self) -> None:
        self.tree: JSON = {}
        self.flat: list[tuple[str, str, str]] = []

    def __bool__(self) -> bool:
        return bool(self.flat)

    def add(self, path: Path, code: str, message: str) -> None:
        """Record that the field at `path` is invalid."""
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})
        self.flat.append((".".join(str(p) for p in path), code, message))

    @property
    def paths(self) -> list[str]:
        """Dotted paths of every invalid field, e.g. ``data.embeds.0.title``."""
        return [p for p, _, _ in self.flat]

    def body(self) -> JSON:
        """The 400 body Discord answers with."""
        return {"code": 50035, "errors": self.tree, "message": "Invalid Form Body"}


def _max_length(errors: FormErrors, path: Path, value: object, limit: int) -> int:
    """Check a string's length; return its length for embed totals (0 if not a string)."""
    if value is None:
        return 0
    if not isinstance(value, str):
        errors.add(path, "BASE_TYPE_STRING", "Could not interpret value as string.")
        return 0
    if len(value) > limit:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
    return len(value)


def _length_between(errors: FormErrors, path: Path, value: object, low: int, high: int) -> None:
    if not isinstance(value, str):
        errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        return
    if not low <= len(value) <= high:
        errors.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")


def _list(errors: FormErrors, path: Path, value: object, limit: int) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add(path, "BASE_TYPE_ARRAY", "Expected an array.")
        return []
    if len(value) > limit:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
    return value


def check_embed(embed: object, errors: FormErrors, path: Path) -> int:
    """Check one embed; return how many characters count toward the 6000 total."""
    if not isinstance(embed, dict):
        errors.add(path, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return 0
    total = _max_length(errors, (*path, "title"), embed.get("title"), EMBED_TITLE_MAX)
    total += _max_length(
        errors, (*path, "description"), embed.get("description"), EMBED_DESCRIPTION_MAX
    )
    footer = embed.get("footer")
    if isinstance(footer, dict):
        total += _max_length(
            errors, (*path, "footer", "text"), footer.get("text"), EMBED_FOOTER_MAX
        )
    author = embed.get("author")
    if isinstance(author, dict):
        total += _max_length(
            errors, (*path, "author", "name"), author.get("name"), EMBED_AUTHOR_MAX
        )
    fields = _list(errors, (*path, "fields"), embed.get("fields"), EMBED_FIELDS_MAX)
    for index, item in enumerate(fields):
        where = (*path, "fields", index)
        if not isinstance(item, dict):
            errors.add(where, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        for key, limit in (("name", EMBED_FIELD_NAME_MAX), ("value", EMBED_FIELD_VALUE_MAX)):
            if item.get(key) is None:
                errors.add((*where, key), "BASE_TYPE_REQUIRED", "This field is required")
            else:
                total += _max_length(errors, (*where, key), item[key], limit)
    return total


def _check_button(item: JSON, errors: FormErrors, path: Path, custom_ids: set[str]) -> None:
    _max_length(errors, (*path, "label"), item.get("label"), BUTTON_LABEL_MAX)
    style = item.get("style")
    if style == BUTTON_LINK:
        if not item.get("url"):
            errors.add((*path, "url"), "BUTTON_COMPONENT_URL_REQUIRED", "A url is required")
        if item.get("custom_id") is not None:
            errors.add(
                (*path, "custom_id"),
                "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                "A custom id cannot be specified",
            )
        return
    if style == BUTTON_PREMIUM:
        return
    if item.get("url") is not None:
        errors.add((*path, "url"), "BUTTON_COMPONENT_URL_NOT_ALLOWED", "A url cannot be specified")
    _check_custom_id(item.get("custom_id"), errors, (*path, "custom_id"), custom_ids)


def _check_custom_id(value: object, errors: FormErrors, path: Path, seen: set[str]) -> None:
    if value is None:
        errors.add(path, "BUTTON_COMPONENT_CUSTOM_ID_REQUIRED", "A custom id is required")
        return
    _length_between(errors, path, value, 1, CUSTOM_ID_MAX)
    if isinstance(value, str):
        if value in seen:
            errors.add(
                path, "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
            )
        seen.add(value)


def _check_select(item: JSON, errors: FormErrors, path: Path, custom_ids: set[str]) -> None:
    _check_custom_id(item.get("custom_id"), errors, (*path, "custom_id"), custom_ids)
    _max_length(errors, (*path, "placeholder"), item.get("placeholder"), SELECT_PLACEHOLDER_MAX)
    if item.get("type") == 3:
        options = item.get("options")
        if not isinstance(options, list) or not options:
            errors.add(
                (*path, "options"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 25 in length."
            )
            return
        _list(errors, (*path, "options"), options, SELECT_OPTIONS_MAX)
        for index, option in enumerate(options):
            if not isinstance(option, dict):
                continue
            where = (*path, "options", index)
            _length_between(
                errors, (*where, "label"), option.get("label"), 1, SELECT_OPTION_TEXT_MAX
            )
            _length_between(
                errors, (*where, "value"), option.get("value"), 1, SELECT_OPTION_TEXT_MAX
            )
            _max_length(
                errors, (*where, "description"), option.get("description"), SELECT_OPTION_TEXT_MAX
            )


def _check_action_row(row: JSON, errors: FormErrors, path: Path, custom_ids: set[str]) -> None:
    children = row.get("components")
    if not isinstance(children, list) or not children:
        errors.add(
            (*path, "components"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
        )
        return
    if len(children) > ROW_BUTTONS_MAX:
        errors.add(
            (*path, "components"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
        )
    has_select = any(isinstance(c, dict) and c.get("type") in SELECT_TYPES for c in children)
    if has_select and len(children) > 1:
        errors.add(
            (*path, "components"),
            "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
            "The specified component exceeds the maximum width",
        )
    for index, child in enumerate(children):
        _check_component(child, errors, (*path, "components", index), custom_ids)


def _check_component(item: object, errors: FormErrors, path: Path, custom_ids: set[str]) -> None:
    if not isinstance(item, dict):
        errors.add(path, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return
    kind = item.get("type")
    if kind == 1:
        _check_action_row(item, errors, path, custom_ids)
    elif kind == 2:
        _check_button(item, errors, path, custom_ids)
    elif kind in SELECT_TYPES:
        _check_select(item, errors, path, custom_ids)
    elif kind == 9:  # section: text displays plus one accessory
        for index, child in enumerate(item.get("components") or []):
            _check_component(child, errors, (*path, "components", index), custom_ids)
        accessory = item.get("accessory")
        if accessory is not None:
            _check_component(accessory, errors, (*path, "accessory"), custom_ids)
    elif kind == 17:  # container
        for index, child in enumerate(item.get("components") or []):
            _check_component(child, errors, (*path, "components", index), custom_ids)


def _count_components(items: Sequence[object]) -> int:
    count = 0
    for item in items:
        if not isinstance(item, dict):
            continue
        count += 1
        count += _count_components(item.get("components") or [])
        if isinstance(item.get("accessory"), dict):
            count += 1
    return count


def check_components(components: object, errors: FormErrors, path: Path, *, flags: int) -> None:
    """Check a message's components (classic action rows, or components v2)."""
    if components is None:
        return
    if not isinstance(components, list):
        errors.add(path, "BASE_TYPE_ARRAY", "Expected an array.")
        return
    custom_ids: set[str] = set()
    if flags & IS_COMPONENTS_V2:
        if _count_components(components) > V2_COMPONENTS_MAX:
            errors.add(
                path, "BASE_TYPE_MAX_LENGTH", f"Must be {V2_COMPONENTS_MAX} or fewer in length."
            )
    else:
        if len(components) > ACTION_ROWS_MAX:
            errors.add(
                path, "BASE_TYPE_MAX_LENGTH", f"Must be {ACTION_ROWS_MAX} or fewer in length."
            )
        for index, row in enumerate(components):
            if isinstance(row, dict) and row.get("type") != 1:
                errors.add(
                    (*path, index, "type"), "UNION_TYPE_CHOICES", "Value must be an action row"
                )
    for index, item in enumerate(components):
        _check_component(item, errors, (*path, index), custom_ids)


def check_allowed_mentions(value: object, errors: FormErrors, path: Path) -> None:
    """Check allowed_mentions the way Discord does (parse and explicit lists clash)."""
    if value is None:
        return
    if not isinstance(value, dict):
        errors.add(path, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return
    parse = value.get("parse") or []
    for index, item in enumerate(parse):
        if item not in ("users", "roles", "everyone"):
            errors.add(
                (*path, "parse", index),
                "BASE_TYPE_CHOICES",
                "Value must be one of {'users', 'roles', 'everyone'}.",
            )
    for kind in ("users", "roles"):
        if kind in parse and value.get(kind):
            errors.add(
                (*path, "parse"),
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
            )
        _list(errors, (*path, kind), value.get(kind), 100)


def check_message(body: JSON, errors: FormErrors, path: Path = ()) -> None:
    """Check a message body (create or edit): content, embeds, components, mentions.

    Emptiness is a separate rule (`is_empty_message`, Discord's 50006) that applies
    only to new messages.
    """
    _max_length(errors, (*path, "content"), body.get("content"), CONTENT_MAX)
    embeds = _list(errors, (*path, "embeds"), body.get("embeds"), EMBEDS_MAX)
    total = 0
    for index, embed in enumerate(embeds):
        total += check_embed(embed, errors, (*path, "embeds", index))
    if total > EMBED_TOTAL_MAX:
        errors.add(
            (*path, "embeds"),
            "MAX_EMBED_SIZE_EXCEEDED",
            f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}",
        )
    flags = body.get("flags") or 0
    if not isinstance(flags, int):
        errors.add((*path, "flags"), "NUMBER_TYPE_COERCE", "Value is not int.")
        flags = 0
    check_components(body.get("components"), errors, (*path, "components"), flags=flags)
    check_allowed_mentions(body.get("allowed_mentions"), errors, (*path, "allowed_mentions"))
    if flags & IS_COMPONENTS_V2 and (body.get("content") or embeds):
        errors.add(
            (*path, "content"),
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content' and 'embeds' fields cannot be used when using MessageFlags.IS_COMPONENTS_V2",
        )


def is_empty_message(body: JSON, *, has_files: bool) -> bool:
    """True when a new message would have nothing to show (Discord's 50006)."""
    return not (
        body.get("content")
        or body.get("embeds")
        or body.get("components")
        or body.get("sticker_ids")
        or body.get("poll")
        or has_files
    )


def check_autocomplete(data: object, errors: FormErrors, path: Path) -> None:
    """Check an autocomplete result: at most 25 choices, names 1-100, string values ≤100."""
    if not isinstance(data, dict):
        errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        return
    choices = _list(errors, (*path, "choices"), data.get("choices"), CHOICES_MAX)
    for index, choice in enumerate(choices):
        where = (*path, "choices", index)
        if not isinstance(choice, dict):
            errors.add(where, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        _length_between(errors, (*where, "name"), choice.get("name"), 1, CHOICE_NAME_MAX)
        value = choice.get("value")
        if isinstance(value, str):
            _max_length(errors, (*where, "value"), value, CHOICE_VALUE_MAX)
        elif not isinstance(value, int | float) or isinstance(value, bool):
            errors.add((*where, "value"), "BASE_TYPE_REQUIRED", "This field is required")


def _check_modal_input(
    item: JSON, errors: FormErrors, path: Path, custom_ids: set[str], *, labelled: bool
) -> None:
    _check_custom_id(item.get("custom_id"), errors, (*path, "custom_id"), custom_ids)
    if item.get("type") != 4:
        return
    if labelled:
        if item.get("label") is not None:
            errors.add(
                (*path, "label"),
                "TEXT_INPUT_LABEL_NOT_ALLOWED",
                "A label cannot be set inside a Label",
            )
    else:
        _length_between(errors, (*path, "label"), item.get("label"), 1, MODAL_LABEL_MAX)
    _max_length(errors, (*path, "value"), item.get("value"), TEXT_INPUT_MAX)
    _max_length(errors, (*path, "placeholder"), item.get("placeholder"), 100)
    for key in ("min_length", "max_length"):
        bound = item.get(key)
        if bound is not None and not (0 <= bound <= TEXT_INPUT_MAX):
            errors.add(
                (*path, key),
                "NUMBER_TYPE_MAX",
                f"int value should be less than or equal to {TEXT_INPUT_MAX}.",
            )


def check_modal(data: object, errors: FormErrors, path: Path) -> None:
    """Check a modal: title 1-45, custom_id 1-100, 1-5 rows of text inputs (or labels)."""
    if not isinstance(data, dict):
        errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        return
    _length_between(errors, (*path, "title"), data.get("title"), 1, MODAL_TITLE_MAX)
    _check_custom_id(data.get("custom_id"), errors, (*path, "custom_id"), set())
    components = data.get("components")
    if not isinstance(components, list) or not components:
        errors.add(
            (*path, "components"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
        )
        return
    if len(components) > 5:
        errors.add(
            (*path, "components"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
        )
    custom_ids: set[str] = set()
    for index, row in enumerate(components):
        where = (*path, "components", index)
        if not isinstance(row, dict):
            continue
        if row.get("type") == 1:
            children = row.get("components") or []
            if len(children) != 1:
                errors.add(
                    (*where, "components"),
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 1 in length.",
                )
            for child_index, child in enumerate(children):
                if isinstance(child, dict):
                    _check_modal_input(
                        child,
                        errors,
                        (*where, "components", child_index),
                        custom_ids,
                        labelled=False,
                    )
        elif row.get("type") == 18:
            _length_between(errors, (*where, "label"), row.get("label"), 1, MODAL_LABEL_MAX)
            child = row.get("component")
            if isinstance(child, dict):
                _check_modal_input(child, errors, (*where, "component"), custom_ids, labelled=True)


def _check_choices(option: JSON, errors: FormErrors, path: Path) -> None:
    choices = _list(errors, (*path, "choices"), option.get("choices"), CHOICES_MAX)
    if choices and option.get("autocomplete"):
        errors.add(
            (*path, "autocomplete"),
            "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID_CHOICES",
            "Autocomplete cannot be set on options with choices",
        )
    for index, choice in enumerate(choices):
        where = (*path, "choices", index)
        if not isinstance(choice, dict):
            continue
        _length_between(errors, (*where, "name"), choice.get("name"), 1, CHOICE_NAME_MAX)
        value = choice.get("value")
        if option.get("type") == STRING:
            _length_between(errors, (*where, "value"), value, 1, CHOICE_VALUE_MAX)


def _check_option_head(option: JSON, errors: FormErrors, where: Path, seen: set[str]) -> int:
    """Name (unique among siblings) and description; return their length."""
    size = 0
    name = option.get("name")
    _check_name(name, errors, (*where, "name"), chat_input=True)
    if isinstance(name, str):
        if name in seen:
            errors.add(
                (*where, "name"),
                "APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS",
                "Option name already exists",
            )
        seen.add(name)
        size += len(name)
    description = option.get("description")
    _length_between(errors, (*where, "description"), description, 1, COMMAND_DESCRIPTION_MAX)
    return size + (len(description) if isinstance(description, str) else 0)


def _check_value_option(option: JSON, errors: FormErrors, where: Path) -> int:
    """Choices and length bounds of a value option; return the choices' length."""
    _check_choices(option, errors, where)
    size = 0
    for choice in option.get("choices") or []:
        if isinstance(choice, dict):
            size += len(str(choice.get("name", ""))) + len(str(choice.get("value", "")))
    for key in ("min_length", "max_length"):
        bound = option.get(key)
        if bound is not None and not (0 <= bound <= 6000):
            errors.add(
                (*where, key), "NUMBER_TYPE_MAX", "int value should be less than or equal to 6000."
            )
    return size


def _check_options(options: object, errors: FormErrors, path: Path, *, depth: int) -> int:
    """Check an options list; return the characters it adds to the command's size."""
    items = _list(errors, path, options, OPTIONS_MAX)
    size = 0
    seen: set[str] = set()
    optional_seen = False
    nesting = {SUB_COMMAND, SUB_COMMAND_GROUP}
    kinds = {o.get("type") for o in items if isinstance(o, dict)}
    if kinds & nesting and kinds - nesting:
        errors.add(
            path,
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-command and sub-command group option types are mutually exclusive to all other types",
        )
    for index, option in enumerate(items):
        where = (*path, index)
        if not isinstance(option, dict):
            errors.add(where, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        size += _check_option_head(option, errors, where, seen)
        kind = option.get("type")
        if kind not in OPTION_TYPES:
            errors.add(
                (*where, "type"), "BASE_TYPE_CHOICES", "Value must be one of the option types."
            )
        elif kind in nesting:
            if depth >= 2 or (kind == SUB_COMMAND_GROUP and depth >= 1):
                errors.add(
                    (*where, "type"),
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Sub-command nesting too deep",
                )
            size += _check_options(
                option.get("options"), errors, (*where, "options"), depth=depth + 1
            )
        else:
            if option.get("required") and optional_seen:
                errors.add(
                    (*where, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
            optional_seen = optional_seen or not option.get("required")
            size += _check_value_option(option, errors, where)
    return size


def _check_name(name: object, errors: FormErrors, path: Path, *, chat_input: bool) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= COMMAND_NAME_MAX:
        errors.add(path, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
        return
    if chat_input and (not COMMAND_NAME_RE.match(name) or name != name.lower()):
        errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")


def check_command(command: object, errors: FormErrors, path: Path) -> None:
    """Check one application command as Discord's bulk overwrite does."""
    if not isinstance(command, dict):
        errors.add(path, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return
    kind = command.get("type", CHAT_INPUT)
    chat_input = kind == CHAT_INPUT
    _check_name(command.get("name"), errors, (*path, "name"), chat_input=chat_input)
    description = command.get("description")
    if chat_input:
        _length_between(errors, (*path, "description"), description, 1, COMMAND_DESCRIPTION_MAX)
        size = len(str(command.get("name", ""))) + len(description or "")
        size += _check_options(command.get("options"), errors, (*path, "options"), depth=0)
        if size > 4000:
            errors.add(path, "APPLICATION_COMMAND_TOO_LARGE", "Command exceeds maximum size (4000)")
    elif description:
        errors.add(
            (*path, "description"),
            "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION",
            "Context menu commands cannot have description",
        )
    permissions = command.get("default_member_permissions")
    if permissions is not None:
        try:
            int(permissions)
        except (TypeError, ValueError):
            errors.add(
                (*path, "default_member_permissions"), "NUMBER_TYPE_COERCE", "Value is not int."
            )


def check_command_list(commands: object, errors: FormErrors) -> None:
    """Check a bulk-overwrite list: each command, unique names per type, count limits."""
    if not isinstance(commands, list):
        errors.add((), "BASE_TYPE_ARRAY", "Expected an array.")
        return
    seen: set[tuple[int, str]] = set()
    counts: dict[int, int] = {}
    for index, command in enumerate(commands):
        check_command(command, errors, (index,))
        if not isinstance(command, dict):
            continue
        key = (int(command.get("type", CHAT_INPUT)), str(command.get("name")))
        if key in seen:
            errors.add(
                (index, "name"),
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                f"Application command names must be unique: {key[1]}",
            )
        seen.add(key)
        counts[key[0]] = counts.get(key[0], 0) + 1
    if counts.get(CHAT_INPUT, 0) > CHAT_INPUT_COMMANDS_MAX:
        errors.add(
            (), "BASE_TYPE_MAX_LENGTH", f"Must be {CHAT_INPUT_COMMANDS_MAX} or fewer in length."
        )
    for kind in (2, 3):
        if counts.get(kind, 0) > CONTEXT_MENU_COMMANDS_MAX:
            errors.add(
                (),
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {CONTEXT_MENU_COMMANDS_MAX} or fewer context menu commands.",
            )
