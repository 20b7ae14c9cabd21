"""The keys the screen offers, on one line at its foot.

Textual's ``Footer`` mounts and styles a widget per key and rebuilds them all whenever the focused
widget's bindings change: opening the trials view spent more time restyling footer keys than
drawing 10,000 trials. This draws the same keys as one line, redrawn (never rebuilt) when the
bindings change, so there is one widget to style, ever. A key is still clickable and still shows
its tooltip under the pointer.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget


@dataclass(frozen=True)
class ShownKey:
    """One key as drawn: where it lies on the line, and what pressing it does."""

    key: str
    display: str
    description: str
    enabled: bool
    tooltip: str
    start: int
    end: int
    separated: bool = False
    """Drawn after a thin rule (the palette's key, set apart at the right end)."""


class KeyBar(Widget, can_focus=False):
    """The screen's shown bindings, left to right; a key that does not fit whole is left out, not cut.
    The command palette's key keeps the right end: from it every command is one search away."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES = {"key-bar--key", "key-bar--description", "key-bar--hover", "key-bar--rule"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        text-wrap: nowrap;
        .key-bar--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        .key-bar--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        .key-bar--rule {
            color: $foreground 20%;
        }
        .key-bar--hover {
            background: $block-hover-background;
        }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._keys: list[ShownKey] | None = None
        self._hovered: str | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def _bindings_changed(self, screen: Screen) -> None:
        if screen is self.screen:
            self._keys = None
            self.refresh()

    def on_resize(self) -> None:
        self._keys = None

    def shown(self) -> list[ShownKey]:
        """The keys on the line now, with their columns (laid out once per change of bindings or width)."""
        if self._keys is None:
            self._keys = self._lay_out(self.size.width)
        return self._keys

    def _lay_out(self, width: int) -> list[ShownKey]:
        app = self.app
        active = self.screen.active_bindings
        palette_key = app.COMMAND_PALETTE_BINDING if app.ENABLE_COMMAND_PALETTE else None
        palette = active.get(palette_key) if palette_key else None
        seen: set[str] = set()
        items = []
        for key, (_node, binding, enabled, tooltip) in active.items():
            if not binding.show or binding.action in seen or key == palette_key:
                continue
            seen.add(binding.action)
            items.append((key, app.get_key_display(binding), binding.description, enabled,
                          tooltip or binding.tooltip or binding.description))
        right: list[ShownKey] = []
        room = width
        if palette is not None:   # the palette reaches every command: it keeps the right end while it fits
            _node, binding, enabled, tooltip = palette
            display, description = app.get_key_display(binding), binding.description
            size = 1 + len(display) + 2 + len(description) + 1
            if size <= width:
                room = width - size
                right.append(ShownKey(palette_key, display, description, enabled,
                                      tooltip or binding.tooltip or description, room, width, separated=True))
        left: list[ShownKey] = []
        column = 0
        for key, display, description, enabled, tooltip in items:
            size = len(display) + 2 + (len(description) + 1 if description else 0)
            if column + size > room:
                break
            left.append(ShownKey(key, display, description, enabled, tooltip, column, column + size))
            column += size
        return left + right

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-bar--key")
        description_style = self.get_component_rich_style("key-bar--description")
        hover = self.get_component_rich_style("key-bar--hover", partial=True)
        rule = self.get_component_rich_style("key-bar--rule")
        line = Text(no_wrap=True, overflow="crop", end="")
        for shown in self.shown():
            if shown.start > len(line):
                line.append(" " * (shown.start - len(line)))
            if shown.separated:
                line.append("▏", rule)
            extra = (hover if shown.key == self._hovered else Style()) + Style(dim=not shown.enabled)
            line.append(f" {shown.display} ", key_style + extra)
            if shown.description:
                line.append(f"{shown.description} ", description_style + extra)
        return line

    def key_at(self, x: int) -> ShownKey | None:
        return next((shown for shown in self.shown() if shown.start <= x < shown.end), None)

    def on_click(self, event: events.Click) -> None:
        shown = self.key_at(event.x)
        if shown is None:
            return
        if shown.enabled:
            self.app.simulate_key(shown.key)
        else:
            self.app.bell()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        shown = self.key_at(event.x)
        hovered = shown.key if shown else None
        if hovered != self._hovered:
            self._hovered = hovered
            self.tooltip = shown.tooltip if shown else None
            self.refresh()

    def on_leave(self) -> None:
        if self._hovered is not None:
            self._hovered = None
            self.tooltip = None
            self.refresh()
