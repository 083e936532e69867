"""The contract file (engine/contract.json) is the one definition: an option
added to it alone reaches the engine's generated limits, the op's property
declarations, the batch command's options and procedure arguments, and the
Python tools' limits; the committed strings for translators match it.

The plug-in's PDB arguments are the op's properties, read from the op at
run time (plugin/fdikp-deblur/fdikp-deblur.c, add_operation_arguments;
tests/plugin test_procedure checks them against the op), so what reaches
the op reaches the PDB. Run: python3 -m unittest from this folder, with
FDIKP_SOURCE_ROOT (and FDIKP_BUILD_ROOT for the generated headers) set.
"""

import copy
import io
import json
import os
import subprocess
import sys
import tempfile
import types
import unittest
from contextlib import redirect_stderr

SOURCE = os.environ.get("FDIKP_SOURCE_ROOT",
                        os.path.dirname(os.path.dirname(os.path.dirname(
                            os.path.abspath(__file__)))))
BUILD = os.environ.get("FDIKP_BUILD_ROOT", "")
CONTRACT = os.path.join(SOURCE, "engine", "contract.json")
GENERATOR = os.path.join(SOURCE, "engine", "contract-gen.py")

# What a new option looks like: one entry in the file, nothing else.
NEW_INT = {"name": "strength", "type": "int", "label": "Strength",
           "minimum": 0, "maximum": 200, "default": 100,
           "description": "How much of the correction to apply, in percent"}
NEW_ENUM = {"name": "padding", "type": "enum", "label": "Padding", "default": "auto",
            "values": [{"nick": "auto", "label": "Automatic"},
                       {"nick": "reflect", "label": "Mirrored"},
                       {"nick": "replicate", "label": "Repeated edge"}],
            "description": "How tiles are extended past the image edge"}


def load_contract():
    with open(CONTRACT, encoding="utf-8") as f:
        return json.load(f)


def generate(contract, kind):
    """The generator's output for a contract (written to a temporary file)."""
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "contract.json")
        with open(source, "w", encoding="utf-8") as f:
            json.dump(contract, f)
        out = os.path.join(tmp, "out")
        done = subprocess.run([sys.executable, GENERATOR, source, kind, out],
                              capture_output=True, text=True)
        if done.returncode:
            raise AssertionError(done.stderr)
        with open(out, encoding="utf-8") as f:
            return f.read()


def load_module(name, path, text=None):
    module = types.ModuleType(name)
    module.__file__ = path
    if text is None:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    exec(compile(text, path, "exec"), module.__dict__)
    return module


def batch_command(contract):
    """The batch command as meson configures it, for this contract."""
    path = os.path.join(SOURCE, "plugin", "fdikp-deblur-batch.py")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text = (text.replace("@GETTEXT_PACKAGE@", "fdikp-deblur")
            .replace("@LOCALEDIR@", "/nonexistent")
            .replace("@FDIKP_CONTRACT@", json.dumps(contract, indent=1)))
    return load_module("fdikp_deblur_batch", path, text)


class ContractFile(unittest.TestCase):
    def setUp(self):
        self.contract = load_contract()
        self.grown = copy.deepcopy(self.contract)
        self.grown["options"] += [NEW_INT, NEW_ENUM]

    def test_the_file_is_consistent(self):
        done = subprocess.run([sys.executable, GENERATOR, CONTRACT, "check"],
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)
        broken = copy.deepcopy(self.contract)
        broken["options"].append(dict(NEW_INT, default=500))
        with self.assertRaisesRegex(AssertionError, "default or ui range"):
            generate(broken, "option-limits")

    def test_the_built_headers_are_the_files_output(self):
        if not BUILD:
            self.skipTest("FDIKP_BUILD_ROOT not set (run through meson)")
        for kind, name in (("option-limits", "option_limits.h"),
                           ("metadata-keys", "metadata_keys.h")):
            with open(os.path.join(BUILD, "engine", name), encoding="utf-8") as f:
                self.assertEqual(f.read(), generate(self.contract, kind), name)

    def test_a_new_option_reaches_the_engines_limits(self):
        header = generate(self.grown, "option-limits")
        for line in ("#define FDIKP_STRENGTH_MIN 0", "#define FDIKP_STRENGTH_MAX 200",
                     "#define FDIKP_STRENGTH_DEFAULT 100",
                     '#define FDIKP_PADDING_DEFAULT "auto"'):
            self.assertIn(line, header)

    def test_a_new_option_reaches_the_op(self):
        properties = generate(self.grown, "op-properties")
        self.assertIn('property_int (strength, _("Strength"), FDIKP_STRENGTH_DEFAULT)',
                      properties)
        self.assertIn("value_range (FDIKP_STRENGTH_MIN, FDIKP_STRENGTH_MAX)", properties)
        self.assertIn("enum_value (FDIKP_DEBLUR_PADDING_REPLICATE, \"replicate\"", properties)
        self.assertIn("property_enum (padding, _(\"Padding\"), FdikpDeblurPadding, "
                      "fdikp_deblur_padding, FDIKP_DEBLUR_PADDING_AUTO)", properties)

    def test_the_map_op_has_the_options_that_name_it_with_its_own_enums(self):
        properties = generate(self.grown, "map-op-properties")
        self.assertNotIn("property_int (stages,", properties)
        self.assertIn("property_int (tile_size,", properties)
        self.assertIn("property_int (strength,", properties)
        self.assertIn("property_enum (precision, _(\"Precision\"), FdikpDefocusMapPrecision, "
                      "fdikp_defocus_map_precision, FDIKP_DEFOCUS_MAP_PRECISION_AUTO)",
                      properties)
        self.assertIn("FdikpDefocusMapDevice", properties)
        self.assertNotIn("FdikpDeblur", properties)
        self.assertIn("property_int (stages,", generate(self.grown, "op-properties"))
        broken = copy.deepcopy(self.contract)
        broken["options"].append(dict(NEW_INT, ops=["defocus-sharpen"]))
        with self.assertRaisesRegex(AssertionError, "ops"):
            generate(broken, "map-op-properties")

    def test_a_new_option_reaches_the_batch_command(self):
        batch = batch_command(self.grown)
        args = batch.parse_args(["-o", "out", "--strength", "150", "--padding", "replicate",
                                 "a.jpg"])
        arguments = batch.procedure_arguments(args)
        self.assertEqual((arguments["strength"], arguments["padding"]), (150, "replicate"))
        self.assertEqual(arguments["tile-size"], 0)
        defaults = batch.procedure_arguments(batch.parse_args(["-o", "out", "a.jpg"]))
        self.assertEqual((defaults["strength"], defaults["padding"]), (100, "auto"))
        for bad in (["--strength", "201"], ["--padding", "circular"]):
            with self.subTest(bad), redirect_stderr(io.StringIO()):
                with self.assertRaises(SystemExit):
                    batch.parse_args(["-o", "out", *bad, "a.jpg"])

    def test_a_new_option_reaches_the_python_tools(self):
        contract = load_module("contract", os.path.join(SOURCE, "model", "fdikp",
                                                        "contract.py"))
        self.assertEqual(contract.CONTRACT, self.contract)
        limits = contract.limits_of(self.grown)
        self.assertEqual((limits["FDIKP_STRENGTH_MIN"], limits["FDIKP_STRENGTH_MAX"]), (0, 200))
        # The names Python uses are the C macros' names.
        header = generate(self.contract, "option-limits")
        for name, value in contract.LIMITS.items():
            self.assertIn("#define %s %d\n" % (name, value), header)

    def test_the_lint_finds_a_literal_limit(self):
        lint = os.path.join(SOURCE, "tests", "lint", "contract-literals.py")
        with tempfile.TemporaryDirectory() as tmp:
            os.makedirs(os.path.join(tmp, "engine"))
            with open(os.path.join(tmp, "engine", "contract.json"), "w") as f:
                json.dump(self.contract, f)
            with open(os.path.join(tmp, "tool.py"), "w") as f:
                f.write("# --stages 3 in a comment is fine\n"
                        "def run(stages=3, tile='8192'):\n    return stages\n")
            with open(os.path.join(tmp, "ok.sh"), "w") as f:
                f.write("#!/bin/sh\nrun --tile-size 8192  # contract-literal: ok (a user's)\n")
            for command in (["init", "-q"], ["add", "."]):
                subprocess.run(["git", "-C", tmp, *command], check=True)
            done = subprocess.run([sys.executable, lint, tmp], capture_output=True, text=True)
        self.assertEqual(done.returncode, 1, done.stdout)
        self.assertIn("tool.py:2:", done.stdout)
        self.assertIn("1 finding(s)", done.stdout)

    def test_the_translators_strings_match_the_file(self):
        with open(os.path.join(SOURCE, "po", "contract-strings.c"), encoding="utf-8") as f:
            self.assertEqual(f.read(), generate(self.contract, "strings"),
                             "po/contract-strings.c is stale: regenerate it with "
                             "engine/contract-gen.py engine/contract.json strings "
                             "po/contract-strings.c")


if __name__ == "__main__":
    unittest.main()
