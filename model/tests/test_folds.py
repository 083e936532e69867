"""The committed fold split (model/fdikp/folds.json, fdikp.folds) and the
cross-validated score built on it (fdikp.crossval)."""

import json
import os
import shutil
import tempfile
import unittest

from fdikp import crossval, folds
from fdikp.image_io import list_pairs
from fdikp.synth import data_dir

DEV = os.path.join(data_dir(), "dpdd1024-dev")
NO_DEV = "no dpdd1024-dev at %s (set FDIKP_DATA)" % DEV


class CommittedSplitTest(unittest.TestCase):
    def setUp(self):
        self.split = folds.Folds()

    def test_five_folds_of_nearly_equal_size_each_pair_once(self):
        self.assertEqual(len(self.split), folds.FOLD_COUNT)
        sizes = [len(f) for f in self.split.folds]
        self.assertLessEqual(max(sizes) - min(sizes), 1)
        names = [n for f in self.split.folds for n in f]
        self.assertEqual(len(names), len(set(names)))
        self.assertEqual(len(names), 38)

    def test_no_scene_straddles_two_folds(self):
        groups = folds.scenes(self.split.names())
        for group in groups:
            self.assertEqual(len({self.split.fold_of(n) for n in group}), 1,
                             group)
        # The file lists the scenes of more than one pair, as the rule
        # finds them, and they were looked at (fdikp.folds' docstring).
        self.assertEqual(self.split.scenes,
                         [g for g in groups if len(g) > 1])
        self.assertIn(["1P0A1973.png", "1P0A1983.png", "1P0A1992.png"],
                      self.split.scenes)

    def test_training_and_held_out_pairs_never_meet(self):
        everything = set(self.split.names())
        for fold in range(len(self.split)):
            held = set(self.split.held_out(fold))
            trained = set(self.split.training(fold))
            self.assertFalse(held & trained)
            self.assertEqual(held | trained, everything)
        self.assertEqual(self.split.training(-1), self.split.names())
        with self.assertRaisesRegex(ValueError, "fold 5"):
            self.split.held_out(5)

    @unittest.skipUnless(os.path.isdir(DEV), NO_DEV)
    def test_the_split_covers_the_data_and_remaking_it_gives_the_file(self):
        self.assertEqual(self.split.names(), list_pairs(DEV))
        with tempfile.TemporaryDirectory() as folder:
            out = os.path.join(folder, "folds.json")
            self.assertEqual(folds.main(["--make", "--pairs", DEV,
                                         "--out", out]), 0)
            with open(out) as f, open(folds.FOLDS_FILE) as g:
                self.assertEqual(json.load(f), json.load(g))


def fake_eval(fold, names, gains, input_psnr):
    return {"fold": fold, "crop": None, "images": [
        {"name": n, "input": {"psnr": p, "ssim": 0.5},
         "model": {"psnr": p + g, "ssim": 0.5 + g / 100}}
        for n, g, p in zip(names, gains, input_psnr)]}


class CrossValidationTest(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp()
        self.folds_file = os.path.join(self.folder, "folds.json")
        self.names = ["a%04d.png" % (100 * i) for i in range(6)]
        with open(self.folds_file, "w") as f:
            json.dump({"folds": [self.names[:3], self.names[3:]],
                       "scenes": []}, f)
        self.split = folds.Folds(self.folds_file)

    def tearDown(self):
        shutil.rmtree(self.folder)

    def write(self, fold, result):
        os.makedirs(os.path.join(self.folder, "fold%d" % fold),
                    exist_ok=True)
        with open(os.path.join(self.folder, "fold%d" % fold,
                               crossval.EVAL_FILE), "w") as f:
            json.dump(result, f)

    def test_gains_spread_and_terciles(self):
        self.write(0, fake_eval(0, self.names[:3], [0.1, 0.2, 0.3],
                                [20, 30, 25]))
        self.write(1, fake_eval(1, self.names[3:], [1.0, 0.0, 0.2],
                                [22, 28, 35]))
        found = crossval.load_folds(self.folder, self.split)
        reference = fake_eval(None, self.names, [0.05] * 6, [0] * 6)
        s = crossval.summarise(found, self.split, reference)
        self.assertTrue(s["complete"])
        self.assertAlmostEqual(s["gain_psnr"], 1.8 / 6)
        self.assertAlmostEqual(s["fold_gain_mean"], (0.2 + 0.4) / 2)
        self.assertAlmostEqual(s["fold_gain_min"], 0.2)
        self.assertEqual(s["better_psnr"], 5)
        # Most blurred third: inputs 20 and 22 (gains 0.1 and 1.0).
        self.assertAlmostEqual(s["terciles"][0]["gain_psnr"], 0.55)
        self.assertAlmostEqual(s["terciles"][2]["gain_psnr"], 0.2)
        self.assertAlmostEqual(s["reference_gain_psnr"], 0.05)
        self.assertIn("| all scored | 6 |", crossval.table(s))

    def test_a_partial_run_is_marked_and_wrong_pairs_are_refused(self):
        self.write(1, fake_eval(1, self.names[3:], [0.1] * 3, [25] * 3))
        s = crossval.summarise(crossval.load_folds(self.folder, self.split),
                               self.split)
        self.assertFalse(s["complete"])
        self.assertEqual(s["folds_scored"], [1])
        self.write(0, fake_eval(0, self.names[2:5], [0.1] * 3, [25] * 3))
        with self.assertRaisesRegex(ValueError, "exactly fold 0"):
            crossval.load_folds(self.folder, self.split)
        self.assertEqual(crossval.main(["--runs", self.folder, "--folds",
                                        self.folds_file]), 1)


if __name__ == "__main__":
    unittest.main()
