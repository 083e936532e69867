"""The translation catalogs: they compile, and every user-visible string in
the sources (op, plug-in, batch command) has a German, French and Spanish
translation."""

import os
import subprocess
import tempfile
import unittest

PO_DIR = os.environ["FDIKP_PO_DIR"]
ROOT = os.environ["FDIKP_SOURCE_ROOT"]
# The keywords of Meson's glib preset, which builds the catalogs.
KEYWORDS = ["--keyword=_", "--keyword=N_", "--keyword=C_:1c,2", "--keyword=NC_:1c,2",
            "--keyword=g_dngettext:2,3"]


def linguas():
    with open(os.path.join(PO_DIR, "LINGUAS")) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def tool(*args):
    return subprocess.run(args, capture_output=True, text=True)


class Catalogs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.pot = os.path.join(cls.tmp.name, "sources.pot")
        done = tool("xgettext", "--from-code=UTF-8", *KEYWORDS, "-D", ROOT,
                    "-f", os.path.join(PO_DIR, "POTFILES.in"), "-o", cls.pot)
        if done.returncode != 0:
            raise AssertionError(done.stderr)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_german_french_spanish(self):
        self.assertEqual(sorted(linguas()), ["de", "es", "fr"])

    def test_sources_have_strings(self):
        with open(self.pot) as f:
            self.assertGreater(f.read().count("msgid "), 30)

    def test_catalogs_compile_with_checked_formats(self):
        for lang in linguas():
            with self.subTest(lang):
                done = tool("msgfmt", "--check", "--statistics", "-o", os.devnull,
                            os.path.join(PO_DIR, lang + ".po"))
                self.assertEqual(done.returncode, 0, done.stderr)
                self.assertNotIn("untranslated", done.stderr)
                self.assertNotIn("fuzzy", done.stderr)

    def test_every_source_string_is_translated(self):
        for lang in linguas():
            with self.subTest(lang):
                # msgcmp: every msgid of the sources must have a translation.
                done = tool("msgcmp", "--use-untranslated", os.path.join(PO_DIR, lang + ".po"),
                            self.pot)
                self.assertEqual(done.returncode, 0, done.stderr)
                untranslated = tool("msgattrib", "--untranslated", "--no-obsolete",
                                    os.path.join(PO_DIR, lang + ".po")).stdout
                self.assertEqual(untranslated.strip(), "",
                                 f"{lang}: untranslated:\n{untranslated}")


if __name__ == "__main__":
    unittest.main()
