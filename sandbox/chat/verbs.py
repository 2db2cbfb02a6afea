"""The ``:`` verbs the chat understands, each with the line of help ``:help`` shows for it."""

from __future__ import annotations

VERBS: dict[str, str] = {
    ":as": "act as another member, e.g. :as bob (or :as mod)",
    ":guild": "switch server, e.g. :guild beta",
    ":click": "press a button on your last reply in this server, e.g. :click Next",
    ":complete": "show what Tab would offer, e.g. :complete /deletepost post:Hel",
    ":members": "list the members of this server",
    ":commands": "list the slash commands and their options",
    ":help": "this help",
    ":quit": "leave (Ctrl-D and Ctrl-C too)",
}
