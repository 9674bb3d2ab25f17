"""A small flame graph SVG from collapsed stacks (py-spy's ``--format raw``), pruned.

py-spy's own SVGs keep every frame (half a megabyte for a 20 s profile); these
drop frames narrower than ``min_share`` of all samples, so a few dozen KB remain
and the costly paths stay readable in any browser.
"""

import html
from collections import defaultdict
from pathlib import Path

_ROW_PX = 16
_WIDTH_PX = 1200


def parse_collapsed(text: str) -> dict[tuple[str, ...], int]:
    """``frame;frame;frame count`` lines into stack tuples and their sample counts."""
    stacks: dict[tuple[str, ...], int] = defaultdict(int)
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def _tree(stacks: dict[tuple[str, ...], int]) -> dict:
    root: dict = {"n": 0, "kids": {}}
    for stack, count in stacks.items():
        node = root
        node["n"] += count
        for frame in stack:
            node = node["kids"].setdefault(frame, {"n": 0, "kids": {}})
            node["n"] += count
    return root


def render(stacks: dict[tuple[str, ...], int], title: str, min_share: float = 0.004) -> str:
    """The SVG text: root at the bottom, width proportional to samples."""
    root = _tree(stacks)
    total = max(root["n"], 1)
    boxes: list[tuple[float, int, float, str, int]] = []  # x, depth, width, name, samples

    def walk(node: dict, x: float, depth: int) -> None:
        for name, kid in sorted(node["kids"].items()):
            width = kid["n"] / total * _WIDTH_PX
            if kid["n"] / total >= min_share:
                boxes.append((x, depth, width, name, kid["n"]))
                walk(kid, x, depth + 1)
            x += width

    walk(root, 0.0, 0)
    depth = max((b[1] for b in boxes), default=0) + 2
    height = depth * _ROW_PX + 24
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH_PX}" height="{height}" '
        'font-family="monospace" font-size="11">',
        f'<text x="4" y="14">{html.escape(title)} ({total} samples; frames under '
        f"{min_share:.1%} dropped; hover for shares)</text>",
    ]
    for x, level, width, name, n in boxes:
        y = height - (level + 1) * _ROW_PX
        hue = 20 + (hash(name.split(" ")[0]) % 40)
        label = html.escape(name)
        chars = int(width / 7)
        text = label[:chars] if chars >= 3 else ""
        out.append(
            f'<g><title>{label}: {n / total:.1%}</title><rect x="{x:.1f}" y="{y}" '
            f'width="{max(width - 0.5, 0.5):.1f}" height="{_ROW_PX - 1}" '
            f'fill="hsl({hue},80%,60%)"/><text x="{x + 2:.1f}" y="{y + 12}">{text}</text></g>'
        )
    out.append("</svg>")
    return "\n".join(out)


def write_svg(collapsed: Path, svg: Path, title: str) -> None:
    """Render ``collapsed`` (py-spy raw output) to ``svg``."""
    svg.write_text(render(parse_collapsed(collapsed.read_text()), title))
