"""The engine's contract, read from its one definition, the contract file
`contract.json` beside this module (in the repository a link to
engine/contract.json, which meson also generates the engine's, the op's and
the batch command's code from): the options and their limits, and the model
metadata schema, which the exporter writes by and checks against.

    from fdikp.contract import LIMITS, OPTIONS, METADATA_KEYS, check_metadata

LIMITS has the names of the C macros generated from the same file
(engine/contract-gen.py option-limits): FDIKP_STAGES_MAX, FDIKP_TRAINED_STAGES...
"""

import json
import os
import re
from dataclasses import dataclass
from typing import Dict, List, Mapping, Union

CONTRACT_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "contract.json")

with open(CONTRACT_FILE, encoding="utf-8") as _f:
    CONTRACT = json.load(_f)

OPTIONS: List[Dict] = CONTRACT["options"]

_FIELDS = {"automatic": "AUTOMATIC", "minimum": "MIN", "maximum": "MAX", "default": "DEFAULT"}


def limits_of(contract: Dict) -> Dict[str, int]:
    """The C macros' names and values (engine/contract-gen.py)."""
    limits: Dict[str, int] = {}
    for option in contract["options"]:
        if option["type"] == "int":
            for field, word in _FIELDS.items():
                if field in option:
                    limits["FDIKP_%s_%s" % (option["name"].upper(), word)] = option[field]
    for name, limit in contract["limits"].items():
        limits["FDIKP_" + name.upper()] = limit["value"]
    return limits


# FDIKP_STAGES_MAX -> 5, ...
LIMITS: Dict[str, int] = limits_of(CONTRACT)


def _resolve(value: Union[int, float, str]) -> float:
    """A number, or a reference "limits.NAME" / "options.NAME.FIELD"."""
    if isinstance(value, (int, float)):
        return value
    parts = value.split(".")
    if parts[0] == "limits":
        return CONTRACT["limits"][parts[1]]["value"]
    return next(o for o in OPTIONS if o["name"] == parts[1])[parts[2]]


@dataclass(frozen=True)
class MetadataKey:
    """One key of the contract's metadata schema."""
    name: str
    type: str            # STRING, NAME, LABEL, INT or NUMBER
    minimum: float
    maximum: float
    default: float
    longest: int


METADATA_FORMAT: str = CONTRACT["metadata"]["format"]
METADATA_FORMAT_VERSION: int = CONTRACT["metadata"]["format_version"]
METADATA_KEYS: Dict[str, MetadataKey] = {
    key["name"]: MetadataKey(key["name"], key["type"],
                             *(float(_resolve(key.get(f, 0)))
                               for f in ("minimum", "maximum", "default")),
                             int(key.get("longest", 0)))
    for key in CONTRACT["metadata"]["keys"]}
_NAME = re.compile(r"[A-Za-z0-9_.+-]*")


def check_metadata(info: Mapping[str, object]) -> None:
    """Raises ValueError unless every key of `info` is in the schema with a
    value the engine accepts (metadata.cc checks the same)."""
    for name, value in info.items():
        key = METADATA_KEYS.get(name)
        if key is None:
            raise ValueError(f"metadata key {name!r} is not in the contract's schema")
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
