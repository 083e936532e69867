"""The engine's contract, read from its one definition in the engine's
headers rather than copied: the option limits (engine/option_limits.h) and
the model metadata schema (engine/metadata_schema.h), which the exporter
writes by and checks against.

    from fdikp.contract import LIMITS, METADATA_KEYS, check_metadata
"""

import os
import re
from dataclasses import dataclass
from typing import Dict, Mapping, Union

ENGINE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "engine")


def _read(name: str) -> str:
    with open(os.path.join(ENGINE_DIR, name), encoding="utf-8") as f:
        return f.read()


def _defines(text: str) -> Dict[str, Union[int, str]]:
    """#define NAME value lines whose value is a number or a string."""
    found: Dict[str, Union[int, str]] = {}
    for name, value in re.findall(r"^#define (\w+) +(-?\d+|\"[^\"]*\")\s*$", text, re.M):
        found[name] = value[1:-1] if value.startswith('"') else int(value)
    return found


# FDIKP_STAGES_MAX -> 5, ... (engine/option_limits.h)
LIMITS: Dict[str, int] = {k: v for k, v in _defines(_read("option_limits.h")).items()
                          if isinstance(v, int)}


@dataclass(frozen=True)
class MetadataKey:
    """One line of FDIKP_METADATA_KEYS (engine/metadata_schema.h)."""
    name: str
    type: str            # STRING, NAME, LABEL, INT or NUMBER
    minimum: float
    maximum: float
    default: float
    longest: int


def _value(token: str) -> float:
    token = token.strip()
    return LIMITS[token] if token in LIMITS else float(token)


def _schema():
    text = _read("metadata_schema.h")
    defines = _defines(text)
    keys = {}
    for fields in re.findall(r"^\s*FDIKP_METADATA_KEY\(([^)]*)\) *\\?$", text, re.M):
        name, kind, minimum, maximum, default, longest = (f.strip() for f in fields.split(","))
        keys[name] = MetadataKey(name, kind, _value(minimum), _value(maximum),
                                 _value(default), int(longest))
    if not keys:
        raise RuntimeError("no FDIKP_METADATA_KEY lines in engine/metadata_schema.h")
    return defines["FDIKP_METADATA_FORMAT"], defines["FDIKP_METADATA_FORMAT_VERSION"], keys


METADATA_FORMAT, METADATA_FORMAT_VERSION, METADATA_KEYS = _schema()
_NAME = re.compile(r"[A-Za-z0-9_.+-]*")


def check_metadata(info: Mapping[str, object]) -> None:
    """Raises ValueError unless every key of `info` is in the schema with a
    value the engine accepts (metadata.cc checks the same)."""
    for name, value in info.items():
        key = METADATA_KEYS.get(name)
        if key is None:
            raise ValueError(f"metadata key {name!r} is not in engine/metadata_schema.h")
        if key.type in ("INT", "NUMBER"):
            whole = key.type == "INT"
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or (whole and value != int(value))
                    or not key.minimum <= value <= key.maximum):
                raise ValueError(f"metadata {name!r} = {value!r}: must be a "
                                 f"{'whole ' if whole else ''}number from "
                                 f"{key.minimum:g} to {key.maximum:g}")
        elif not isinstance(value, str):
            raise ValueError(f"metadata {name!r} must be a string")
        elif key.type in ("NAME", "LABEL"):
            bad = (len(value.encode()) > key.longest
                   or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
                   or (key.type == "NAME" and (not _NAME.fullmatch(value)
                                               or value.startswith("."))))
            if bad:
                raise ValueError(f"metadata {name!r} = {value!r} is not a valid "
                                 f"{key.type.lower()}")
    if info.get("default_stages", 0) > info.get("max_stages", LIMITS["FDIKP_STAGES_MAX"]):
        raise ValueError("metadata 'default_stages' exceeds 'max_stages'")
