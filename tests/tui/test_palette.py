"""Textual's command palette (Ctrl+P) lists the actions of the screen it was opened on."""

from textual.command import CommandPalette

from morec_tui.screens.compare import CompareScreen
from morec_tui.screens.runs import RunsScreen
from tests.tui.fill import app_on, drive, loaded, wait_for


def test_the_palette_offers_the_screens_actions_by_name(filled):
    async def body(app, pilot):
        runs = await loaded(app, pilot, RunsScreen)
        titles = [command.title for command in app.get_system_commands(runs)]
        for title in ("Group seeds", "Overlay", "Study", "Compare", "New job", "Filter"):
            assert title in titles
        assert len(titles) == len(set(titles))
        assert "Page down" not in titles  # a widget's own keys stay out
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
        await pilot.press(*"group seeds")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: runs.grouped, what="the seeds grouped")
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
        await pilot.press(*"compare")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await loaded(app, pilot, CompareScreen)

    drive(app_on(filled), body)
