"""Tag vocabulary: names per tag field <-> the integer columns of a ``[B, 4]`` tag tensor.

Index 0 of every field is the null tag "<null>" (unknown or dropped for classifier-free guidance).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ditto_live.engine.conditioning import NULL_TAG, TAG_FIELDS

NULL_NAME = "<null>"  # name of index 0 in every field

# tempo buckets: (upper bound in bpm, exclusive; name), the last one open-ended
TEMPO_BUCKETS: tuple[tuple[float, str], ...] = (
    (80.0, "slow"),
    (110.0, "moderate"),
    (140.0, "fast"),
    (float("inf"), "very fast"),
)


def tempo_bucket(bpm: float) -> str:
    """The tempo tag of a song at ``bpm`` beats per minute."""
    if not bpm > 0:
        raise ValueError(f"tempo must be a positive bpm, got {bpm}")
    return next(name for upper, name in TEMPO_BUCKETS if bpm < upper)


@dataclass(frozen=True)
class TagVocab:
    """Names of each tag field, in ``TAG_FIELDS`` order; each tuple starts with "<null>"."""

    names: tuple[tuple[str, ...], ...]  # names[field][index]
    fields: tuple[str, ...] = TAG_FIELDS  # field names, the columns of a tag tensor

    def __post_init__(self) -> None:
        names = tuple(tuple(n) for n in self.names)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "fields", tuple(self.fields))
        if len(names) != len(self.fields):
            raise ValueError(f"TagVocab needs {len(self.fields)} name lists, got {len(names)}")
        for field, ns in zip(self.fields, names):
            if not ns or ns[0] != NULL_NAME:
                raise ValueError(f"tag field {field!r}: index 0 must be {NULL_NAME!r}")
            if len(set(ns)) != len(ns):
                raise ValueError(f"tag field {field!r} has duplicate names")

    @staticmethod
    def from_names(**names: list[str]) -> TagVocab:
        """Build from the non-null names of each field, e.g. ``from_names(genre=["chorale"], ...)``;
        fields not given get only the null tag."""
        unknown = set(names) - set(TAG_FIELDS)
        if unknown:
            raise ValueError(f"unknown tag fields {sorted(unknown)}; fields are {list(TAG_FIELDS)}")
        return TagVocab(tuple((NULL_NAME, *names.get(f, ())) for f in TAG_FIELDS))

    @property
    def sizes(self) -> tuple[int, ...]:
        """Vocabulary size per field (null included): the UNet's ``vocab_sizes``."""
        return tuple(len(ns) for ns in self.names)

    def encode(self, tags: dict[str, str | None]) -> Tensor:
        """{"genre": "chorale", ...} -> LongTensor [n_fields]; missing fields or None -> null."""
        unknown = set(tags) - set(self.fields)
        if unknown:
            raise ValueError(f"unknown tag fields {sorted(unknown)}; fields are {list(self.fields)}")
        out = []
        for field, ns in zip(self.fields, self.names):
            name = tags.get(field)
            if name is None or name == NULL_NAME:
                out.append(NULL_TAG)
            elif name in ns:
                out.append(ns.index(name))
            else:
                raise ValueError(f"unknown {field} tag {name!r}; choices: {', '.join(ns[1:]) or '(none)'}")
        return torch.tensor(out, dtype=torch.long)

    def decode(self, tags: Tensor) -> dict[str, str | None]:
        """LongTensor [n_fields] -> {"genre": "chorale", ...}, None for null fields."""
        return {f: (None if int(i) == NULL_TAG else ns[int(i)])
                for f, ns, i in zip(self.fields, self.names, tags.tolist())}

    def to_dict(self) -> dict[str, list[str]]:
        """{field: [names...]} in field order: the "tags" entry of a checkpoint's JSON."""
        return {f: list(ns) for f, ns in zip(self.fields, self.names)}

    @staticmethod
    def from_dict(d: dict[str, list[str]]) -> TagVocab:
        return TagVocab(tuple(tuple(ns) for ns in d.values()), tuple(d))
