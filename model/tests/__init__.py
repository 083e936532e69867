"""Unit tests of the fdikp package; run from model/ with
python3 -m unittest -v tests.test_<name>."""
