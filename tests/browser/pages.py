"""What the browser tests wait for on Cartostup's own pages (never a fixed sleep)."""

from __future__ import annotations

MAP_SETTLED = '#dealpoints-map[aria-busy="false"]'


def map_settled(page, timeout: float = 30_000) -> None:
    """The map's first view is set and every layer it asked for is drawn, or its error said
    (map.js keeps `aria-busy` on the map until then)."""
    page.locator(MAP_SETTLED).wait_for(state="attached", timeout=timeout)
