"""The new-job form under a burst of keys, as a terminal delivers them (issue 24): every key
lands in the field it was typed for, however fast it came after Tab or Ctrl+U."""

from textual import events
from textual.widgets import Input

from morec_tui.screens.launch import LaunchScreen
from morec_tui.screens.runs import RunsScreen
from tests.tui.fill import app_on, drive, loaded, wait_for

OVERRIDES = "train.epochs=3 train.lr=0.01"


def burst(app, keys):
    """Post every key at once, as the driver's input thread does: no waiting in between."""
    for key in keys:
        character = {"space": " "}.get(key, key if len(key) == 1 else None)
        app.post_message(events.Key(key, character))


def typed(text):
    return ["space" if char == " " else char for char in text]


def test_a_burst_after_n_tab_and_ctrl_u_loses_no_key(filled):
    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        for attempt in range(5):
            burst(app, ["n", "ctrl+u", *typed("demx"), "backspace", "o", *["tab"] * 5, "ctrl+u",
                        *typed(OVERRIDES)])
            form = await loaded(app, pilot, LaunchScreen)
            overrides = form.query_one("#overrides", Input)
            await wait_for(pilot, lambda field=overrides: field.value == OVERRIDES, timeout=5,
                           what=f"the overrides typed (attempt {attempt})")
            assert form.query_one("#dataset", Input).value == "demo"
            assert form.query_one("#backbone", Input).value == "sasrec"
            await pilot.press("escape")
            await loaded(app, pilot, RunsScreen)

    drive(app_on(filled), body)
