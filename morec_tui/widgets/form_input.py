"""An Input whose editing keys (Ctrl+U, Backspace, ←, Home, Enter...) act in the order they
were typed.

Textual runs a widget's key bindings only once the key has bubbled back up to the app: the
characters typed right after the key reach the Input first. In a burst (a paste, a fast
typist, a script) `Ctrl+U demo` became `demo`, then Ctrl+U, and the field was left empty
(issue 24: 9 bursts of 10 launched with the defaults, silently). Here the Input runs its own
bindings when the key reaches it, in its queue's order, and the key goes no further.
"""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.widgets import Input


def _editing_keys() -> dict[str, str]:
    """key -> action of every binding Input declares."""
    keys: dict[str, str] = {}
    for binding in Input.BINDINGS:
        if isinstance(binding, Binding):
            key, action = binding.key, binding.action
        else:  # a (key, action[, description]) tuple
            key, action = binding[0], binding[1]
        for name in key.split(","):
            keys[name.strip()] = action
    return keys


EDITING_KEYS = _editing_keys()


class FormInput(Input):
    async def _on_key(self, event: events.Key) -> None:
        action = EDITING_KEYS.get(event.key)
        if action is None:
            return  # a character, or a key of the screen's: Input's own handling
        event.stop()
        event.prevent_default()
        await self.run_action(action)
