"""The messages that ask an LLM for synthetic examples of one class."""

from __future__ import annotations

from collections.abc import Sequence

from ..descriptions import humanize_label

SYSTEM = (
    "You write realistic, varied example texts for training a text classifier. "
    "Each text is something a real person would write. Answer only with the requested structure."
)
MAX_SEEDS = 5
MAX_AVOID = 20
MAX_OTHERS = 100


def generation_messages(
    name: str,
    description: str | None,
    seeds: Sequence[str],
    others: Sequence[str],
    count: int,
    avoid: Sequence[str] = (),
) -> list[dict[str, str]]:
    lines = [f'Write {count} different short texts that clearly belong to the class "{humanize_label(name)}".']
    if description:
        lines.append(f"What the class means: {description}")
    if seeds:
        lines.append("Real examples of this class:")
        lines.extend(f"- {s}" for s in seeds[:MAX_SEEDS])
    if others:
        shown = [humanize_label(o) for o in others[:MAX_OTHERS]]
        lines.append(f"The texts must not fit these other classes: {', '.join(shown)}.")
    if avoid:
        lines.append("Do not repeat these texts:")
        lines.extend(f"- {a}" for a in avoid[-MAX_AVOID:])
    lines.append(
        "Vary length, wording and tone. Do not copy the description, do not number the texts, "
        "and do not mention the class name unless a real person would."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n".join(lines)}]
