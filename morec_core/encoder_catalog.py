"""What each item encoder of the registry (morec_core/encoders) is, without building one: its
name, the item content it reads and the pretrained model it uses when none is named.

Torch-free, for the readers that must not load torch to know the encoders: study preflight
(morec_core.study.studies), the dashboard's launch form, the build's choice of content cache. The
registry itself (`morec_core.encoders.ENCODERS`) holds the builders; a test keeps the two names
lists equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ContentKind = Literal["none", "tokens", "images", "titles"]
"""`tokens`: tokenized titles (a transformer); `images`: the image cache; `titles`: raw title
words (word vectors); `none`: no content (an ID table)."""


@dataclass(frozen=True, kw_only=True)
class EncoderEntry:
    name: str
    content: ContentKind
    default_model: str
    """The pretrained model of `encoder.model=''` (a packaged short name); '' for id."""


ENCODER_CATALOG: dict[str, EncoderEntry] = {entry.name: entry for entry in (
    EncoderEntry(name="id", content="none", default_model=""),
    EncoderEntry(name="text", content="tokens", default_model="minilm-l6"),
    EncoderEntry(name="vision", content="images", default_model="mobilenetv2"),
    EncoderEntry(name="glove", content="titles", default_model="glove-6b-50d"),
)}
ENCODER_NAMES: tuple[str, ...] = tuple(ENCODER_CATALOG)


def default_model(encoder: str) -> str:
    """The model a modality encoder uses when none is named; '' for id or an unknown name."""
    entry = ENCODER_CATALOG.get(encoder)
    return entry.default_model if entry is not None else ""


def content_of(encoder: str) -> ContentKind:
    """The item content `encoder` reads; `none` for id or an unknown name."""
    entry = ENCODER_CATALOG.get(encoder)
    return entry.content if entry is not None else "none"
