#!/usr/bin/env python3
"""Generates code from the engine's contract file (engine/contract.json).

    contract-gen.py CONTRACT option-limits OUT     C macros of every option's
                                                   range and default and of
                                                   the engine's limits
    contract-gen.py CONTRACT metadata-keys OUT     the metadata schema as the
                                                   X-macro metadata_schema.h
                                                   expands
    contract-gen.py CONTRACT op-properties OUT     the GEGL op's enum and
                                                   property declarations
    contract-gen.py CONTRACT map-op-properties OUT the same for the defocus
                                                   map op (its own enum
                                                   types; its options only)
    contract-gen.py CONTRACT strings OUT           every user-visible string,
                                                   for xgettext
    contract-gen.py CONTRACT check                 only checks the file

Meson runs it at build time (engine/meson.build, gegl-op/meson.build); the
outputs are never edited or committed. Python's standard library only.

Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.
"""

import json
import sys

TYPES = ("string", "int", "enum")
# The GEGL ops an option may belong to ("ops"; all of them when absent) and
# the word their C enums are named with: each op registers its own enum
# types, since GObject takes a type name once per process.
OPS = {"defocus-deblur": "deblur", "defocus-map": "defocus_map"}
METADATA_TYPES = ("STRING", "NAME", "LABEL", "INT", "NUMBER")


class ContractError(Exception):
    pass


def macro(*words):
    return "FDIKP_" + "_".join(w.upper() for w in words)


def c_string(text):
    return json.dumps(text)  # a JSON string of ASCII is a valid C string


def load(path):
    with open(path, encoding="utf-8") as f:
        contract = json.load(f)
    check(contract)
    return contract


def option(contract, name):
    for entry in contract["options"]:
        if entry["name"] == name:
            return entry
    raise ContractError("no option %r" % name)


def resolve(contract, value):
    """A number, or a reference "limits.NAME" / "options.NAME.FIELD"."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    parts = str(value).split(".")
    if parts[0] == "limits" and len(parts) == 2:
        return contract["limits"][parts[1]]["value"]
    if parts[0] == "options" and len(parts) == 3:
        return option(contract, parts[1])[parts[2]]
    raise ContractError("cannot resolve %r" % (value,))


def check(contract):
    names = set()
    for entry in contract["options"]:
        name, kind = entry.get("name"), entry.get("type")
        if not name or not name.replace("_", "").isalnum() or name in names:
            raise ContractError("option name %r is missing, not an identifier or repeated" % name)
        names.add(name)
        if kind not in TYPES:
            raise ContractError("option %s: type %r is not one of %s" % (name, kind, TYPES))
        if not set(entry.get("ops", OPS)) <= set(OPS):
            raise ContractError("option %s: ops %r are not among %s"
                                % (name, entry["ops"], sorted(OPS)))
        for field in ("label", "description"):
            if not entry.get(field):
                raise ContractError("option %s has no %s" % (name, field))
        if kind == "int":
            low, high, default = entry["minimum"], entry["maximum"], entry["default"]
            ui_low = entry.get("ui_minimum", low)
            ui_high = entry.get("ui_maximum", high)
            if not low <= default <= high or not low <= ui_low <= ui_high <= high:
                raise ContractError("option %s: default or ui range outside %d..%d"
                                    % (name, low, high))
            if "automatic" in entry and not low <= entry["automatic"] <= high:
                raise ContractError("option %s: automatic outside its range" % name)
        if kind == "enum":
            nicks = [v["nick"] for v in entry["values"]]
            if entry["default"] not in nicks or len(set(nicks)) != len(nicks):
                raise ContractError("option %s: default %r not among %s, or repeated values"
                                    % (name, entry["default"], nicks))
    for name, limit in contract["limits"].items():
        if not isinstance(limit.get("value"), int):
            raise ContractError("limit %s has no whole value" % name)
    for key in contract["metadata"]["keys"]:
        if key["type"] not in METADATA_TYPES:
            raise ContractError("metadata key %s: type %r" % (key["name"], key["type"]))
        if key["type"] in ("INT", "NUMBER"):
            low, high, default = (resolve(contract, key[f])
                                  for f in ("minimum", "maximum", "default"))
            if not low <= default <= high:
                raise ContractError("metadata key %s: default outside its range" % key["name"])
        if key["type"] in ("NAME", "LABEL") and not key.get("longest"):
            raise ContractError("metadata key %s needs 'longest'" % key["name"])


def guard(out_name, body, about):
    symbol = "FDIKP_GENERATED_" + out_name.upper().replace(".", "_").replace("-", "_")
    return ("/* %s\n * Generated from engine/contract.json by engine/contract-gen.py: do not "
            "edit. */\n\n#ifndef %s\n#define %s\n\n%s\n#endif /* %s */\n"
            % (about, symbol, symbol, body.rstrip() + "\n", symbol))


def option_limits(contract):
    lines = []
    for entry in contract["options"]:
        name = entry["name"]
        lines.append("/* %s: %s. */" % (entry["label"], entry["description"]))
        if entry["type"] == "int":
            for field in ("automatic", "minimum", "maximum", "default", "ui_minimum",
                          "ui_maximum"):
                value = entry.get(field)
                if value is None and field.startswith("ui_"):
                    value = entry[field[3:]]
                if value is not None:
                    word = {"minimum": "min", "maximum": "max", "ui_minimum": "ui_min",
                            "ui_maximum": "ui_max"}.get(field, field)
                    lines.append("#define %s %d" % (macro(name, word), value))
        else:  # string and enum options: their default, as a C string
            lines.append("#define %s %s" % (macro(name, "default"), c_string(entry["default"])))
    lines.append("")
    for name, limit in contract["limits"].items():
        lines.append("/* %s%s. */" % (limit["about"][0].upper(), limit["about"][1:]))
        lines.append("#define %s %d" % (macro(name), limit["value"]))
    return guard("option_limits.h", "\n".join(lines),
                 "The options a user sets (range, default) and the engine's limits.")


def metadata_keys(contract):
    meta = contract["metadata"]
    lines = ["#define FDIKP_METADATA_FORMAT %s" % c_string(meta["format"]),
             "#define FDIKP_METADATA_FORMAT_VERSION %d" % meta["format_version"], "",
             "/* clang-format off */",
             "#define FDIKP_METADATA_KEYS(FDIKP_METADATA_KEY) \\"]
    rows = []
    for key in meta["keys"]:
        numbers = [resolve(contract, key.get(f, 0)) for f in ("minimum", "maximum", "default")]
        rows.append("  FDIKP_METADATA_KEY(%s, %s, %s, %s, %s, %d)"
                    % (key["name"], key["type"], *("%r" % n for n in numbers),
                       key.get("longest", 0)))
    lines.append(" \\\n".join(rows))
    lines.append("/* clang-format on */")
    return guard("metadata_keys.h", "\n".join(lines),
                 "Every key of a model file's metadata: "
                 "FDIKP_METADATA_KEY(key, type, minimum, maximum, default, longest).")


def op_properties(contract, op="defocus-deblur"):
    """GEGL's chant declarations (gegl-op.h), for the op's GEGL_PROPERTIES
    section: the options whose "ops" name `op`. Strings are marked for
    translation as the op's own were."""
    lines = []
    word = OPS[op]
    for entry in contract["options"]:
        if op not in entry.get("ops", OPS):
            continue
        name, label = entry["name"], c_string(entry["label"])
        description = "_(%s)" % c_string(entry["description"])
        if entry["type"] == "enum":
            enum = "fdikp_%s_%s" % (word, name)
            type_name = "Fdikp" + (word + "_" + name).title().replace("_", "")
            lines.append("enum_start (%s)" % enum)
            for value in entry["values"]:
                lines.append("  enum_value (%s, %s, N_(%s))"
                             % (macro(word, name, value["nick"]), c_string(value["nick"]),
                                c_string(value["label"])))
            lines.append("enum_end (%s)" % type_name)
            lines.append("")
            lines.append("property_enum (%s, _(%s), %s, %s, %s)"
                         % (name, label, type_name, enum,
                            macro(word, name, entry["default"])))
            lines.append("  description (%s)" % description)
        elif entry["type"] == "int":
            lines.append("property_int (%s, _(%s), %s)" % (name, label, macro(name, "default")))
            lines.append("  description (%s)" % description)
            lines.append("  value_range (%s, %s)" % (macro(name, "min"), macro(name, "max")))
            if "ui_minimum" in entry or "ui_maximum" in entry:
                lines.append("  ui_range (%s, %s)" % (macro(name, "ui_min"),
                                                      macro(name, "ui_max")))
            if entry.get("unit"):
                lines.append("  ui_meta (\"unit\", %s)" % c_string(entry["unit"]))
        else:
            lines.append("property_string (%s, _(%s), %s)"
                         % (name, label, c_string(entry["default"])))
            if entry.get("installed_models"):
                # The op describes and lists the models installed when it
                # was registered (defocus-deblur.h: the listing key).
                lines.append("  description (model_description ())")
                lines.append("  ui_meta (FDIKP_DEBLUR_MODELS_KEY, model_listing ())")
            else:
                lines.append("  description (%s)" % description)
        lines.append("")
    return ("/* The GEGL op's properties, one per option of engine/contract.json.\n"
            " * Generated by engine/contract-gen.py: do not edit. Included by the op\n"
            " * inside its GEGL_PROPERTIES section, once per expansion. */\n\n"
            + "\n".join(lines))


def strings(contract):
    """Every user-visible string as N_() calls: xgettext's input for the
    catalogs. xgettext reads no JSON, so this one output is committed
    (po/contract-strings.c, listed in po/POTFILES.in); the contract test
    fails when it no longer matches the contract file."""
    lines = ["/* User-visible strings of engine/contract.json, for xgettext. Generated",
             " * by engine/contract-gen.py (strings): do not edit. */",
             "/* clang-format off */"]
    for entry in contract["options"]:
        texts = [entry["label"]]
        # The op describes a model option by the models installed.
        if not entry.get("installed_models"):
            texts.append(entry["description"])
        texts += [v["label"] for v in entry.get("values", [])]
        lines += ["N_(%s)" % c_string(t) for t in texts]
    lines.append("/* clang-format on */")
    return "\n".join(lines) + "\n"


GENERATORS = {"option-limits": option_limits, "metadata-keys": metadata_keys,
              "op-properties": op_properties,
              "map-op-properties": lambda contract: op_properties(contract, "defocus-map"),
              "strings": strings}


def main(argv):
    if len(argv) == 3 and argv[2] == "check":
        load(argv[1])
        return 0
    if len(argv) != 4 or argv[2] not in GENERATORS:
        sys.stderr.write(__doc__)
        return 2
    try:
        text = GENERATORS[argv[2]](load(argv[1]))
    except (ContractError, KeyError, ValueError) as e:
        sys.stderr.write("contract-gen: %s: %s\n" % (argv[1], e))
        return 1
    with open(argv[3], "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
