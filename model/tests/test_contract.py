"""The engine's contract as the Python side reads it from the engine's
headers (fdikp.contract): the option limits and the metadata schema, and
the exporter's check refusing what the engine's reader refuses."""

import unittest

from fdikp.contract import LIMITS, METADATA_FORMAT, METADATA_FORMAT_VERSION, METADATA_KEYS
from fdikp.contract import check_metadata
from fdikp.network import MAX_STAGES, TRAINED_STAGES


class Contract(unittest.TestCase):
    def test_limits_come_from_the_engines_header(self):
        self.assertEqual(LIMITS["FDIKP_STAGES_AUTOMATIC"], 0)
        self.assertEqual(MAX_STAGES, LIMITS["FDIKP_STAGES_MAX"])
        self.assertEqual(TRAINED_STAGES, LIMITS["FDIKP_TRAINED_STAGES"])

    def test_the_schema_is_parsed_with_its_symbolic_limits(self):
        self.assertEqual(METADATA_FORMAT, "fdikp-deblur-model")
        self.assertEqual(METADATA_FORMAT_VERSION, 1)
        stages = METADATA_KEYS["default_stages"]
        self.assertEqual((stages.type, stages.minimum, stages.maximum, stages.default),
                         ("INT", LIMITS["FDIKP_NETWORK_STAGES_MIN"], MAX_STAGES, TRAINED_STAGES))
        self.assertEqual(METADATA_KEYS["recommended_tile_size"].default, 320)
        self.assertEqual(METADATA_KEYS["name"].longest, 64)
        self.assertEqual(METADATA_KEYS["memory_bytes_per_pixel"].type, "NUMBER")

    def test_what_the_engine_refuses_is_not_written(self):
        check_metadata({"name": "fdikp-s", "title": "FDIKP-S é", "default_stages": 3,
                        "max_stages": 5, "memory_bytes_per_pixel": 2400.5})
        for bad in ({"unknown_key": 1}, {"default_stages": 9}, {"base_multiple": 2.5},
                    {"max_stages": 3, "default_stages": 4}, {"name": "a/b"},
                    {"name": ".hidden"}, {"title": "two\nlines"}, {"speed_class": 3},
                    {"architecture": 5}, {"memory_bytes_per_pixel": -1},
                    {"parameters": True}):
            with self.subTest(bad):
                with self.assertRaises(ValueError):
                    check_metadata(bad)


if __name__ == "__main__":
    unittest.main()
