"""Real pairs as a training source (fdikp.real_pairs, fdikp.train): only
through the fold split, crops aligned and seeded, the held-out fold never
trained on but validated on, resume exact; evaluate --fold."""

import json
import os
import shutil
import tempfile
import unittest

import numpy as np
import torch
from PIL import Image

from fdikp import evaluate, real_pairs, train
from fdikp.synth import data_dir

DATA = data_dir()
HAVE_PHOTOS = os.path.isdir(os.path.join(DATA, "train-photos"))
NO_DATA = "no training photos at %s (set FDIKP_DATA)" % DATA
NAMES = ["p0010.png", "p0050.png", "p0090.png", "p0130.png"]


def quiet(_line):
    pass


def make_pairs(folder, names=NAMES, side=64):
    """Pairs whose red channel names the pair (40 * i + 20 everywhere) and
    whose blurry image is the sharp one's negative: a crop of both from
    the same place sums to 1 everywhere."""
    rng = np.random.default_rng(0)
    for sub in ("blur", "sharp"):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    for i, name in enumerate(names):
        sharp = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        sharp[..., 0] = 40 * i + 20
        Image.fromarray(sharp).save(os.path.join(folder, "sharp", name))
        Image.fromarray(255 - sharp).save(os.path.join(folder, "blur", name))


def make_folds(path, folds):
    with open(path, "w") as f:
        json.dump({"folds": folds, "scenes": []}, f)


def pair_index(crop):
    """Which of make_pairs' pairs a sharp crop comes from."""
    return int(round((float(crop[0].mean()) * 255 - 20) / 40))


class PairsFolder(unittest.TestCase):
    """make_pairs' four pairs in a temporary folder, split into two folds
    (NAMES[:2] and NAMES[2:]) by a fold file of their own."""

    def setUp(self):
        self.folder = tempfile.mkdtemp()
        self.pairs = os.path.join(self.folder, "pairs")
        make_pairs(self.pairs)
        self.folds = os.path.join(self.folder, "folds.json")
        make_folds(self.folds, [NAMES[:2], NAMES[2:]])

    def tearDown(self):
        shutil.rmtree(self.folder)


class RealPairsTest(PairsFolder):

    def test_the_held_out_fold_is_never_trained_on(self):
        names = real_pairs.training_names(self.pairs, 0, self.folds)
        self.assertEqual(names, NAMES[2:])
        self.assertEqual(real_pairs.held_out_names(self.pairs, 0,
                                                   self.folds), NAMES[:2])
        self.assertEqual(real_pairs.training_names(self.pairs, -1,
                                                   self.folds), NAMES)
        source = real_pairs.RealPairs(self.pairs, names, seed=3)
        seen = set()
        for index in range(20):
            _, sharp = source.batch(index, 4, 32)
            seen.update(pair_index(s) for s in sharp)
        self.assertEqual(seen, {2, 3})

    def test_pairs_outside_the_split_and_unknown_folds_are_refused(self):
        make_folds(self.folds, [NAMES[:1], NAMES[2:]])
        with self.assertRaisesRegex(ValueError, "in no fold of .*p0050"):
            real_pairs.training_names(self.pairs, 0, self.folds)
        make_folds(self.folds, [NAMES[:2], NAMES[2:]])
        with self.assertRaisesRegex(ValueError, "fold 2: .* folds 0..1"):
            real_pairs.training_names(self.pairs, 2, self.folds)

    def test_crops_are_aligned_seeded_and_varied(self):
        source = real_pairs.RealPairs(self.pairs, NAMES, seed=1)
        blurry, sharp = source.batch(5, 6, 24)
        self.assertEqual(tuple(blurry.shape), (6, 3, 24, 24))
        self.assertTrue(torch.allclose(blurry + sharp, torch.ones_like(sharp),
                                       atol=1e-6))
        again = source.batch(5, 6, 24)
        self.assertTrue(torch.equal(again[0], blurry))
        other = source.batch(6, 6, 24)
        self.assertFalse(torch.equal(other[0], blurry))
        reseeded = real_pairs.RealPairs(self.pairs, NAMES, seed=2)
        self.assertFalse(torch.equal(reseeded.batch(5, 6, 24)[0], blurry))
        with self.assertRaisesRegex(ValueError, "smaller than the 80 px"):
            source.batch(0, 1, 80)

    def test_share_sets_how_many_samples_are_real(self):
        self.assertEqual(real_pairs.real_count(4, 0.5), 2)
        self.assertEqual(real_pairs.real_count(4, 0.0), 0)
        self.assertEqual(real_pairs.real_count(4, 1.0), 4)
        self.assertEqual(real_pairs.real_count(3, 0.3), 1)

    def test_evaluate_scores_only_the_fold(self):
        out = os.path.join(self.folder, "eval.json")
        self.assertEqual(evaluate.main(
            ["--model", "identity", "--pairs", self.pairs, "--fold", "1",
             "--folds", self.folds, "--json", out]), 0)
        with open(out) as f:
            result = json.load(f)
        self.assertEqual(result["fold"], 1)
        self.assertEqual([r["name"] for r in result["images"]], NAMES[2:])
        self.assertEqual(evaluate.main(
            ["--model", "identity", "--pairs", self.pairs, "--fold", "4",
             "--folds", self.folds]), 1)


@unittest.skipUnless(HAVE_PHOTOS, NO_DATA)
class TrainingOnRealPairsTest(PairsFolder):
    def config(self, **changes):
        config = dict(steps=4, phase2_steps=0, milestones="", batch=4,
                      crop=32, stages=2, val_every=4, val_count=2,
                      val_crop=32, real_count=2, real_crop=32, log_every=1,
                      ckpt_every=2, ckpt_minutes=1e9, device="cpu",
                      data=DATA, loss="psnr", ema_decay=0.9,
                      real_pairs=self.pairs, real_share=0.5, fold=0,
                      folds=self.folds)
        config.update(changes)
        return train.TrainConfig(**config)

    def test_batches_mix_real_and_synthetic_crops(self):
        trainer = train.Trainer(self.config(), os.path.join(
            self.folder, "mix"), log=quiet)
        source = train.BatchSource(trainer.synth_args, trainer.config, 0,
                                   trainer.real_args)
        blurry, sharp = source.get(0)
        self.assertEqual(blurry.shape[0], 4)
        real = [i for i in range(4) if torch.allclose(
            blurry[i] + sharp[i], torch.ones_like(sharp[i]), atol=1e-6)]
        self.assertEqual(real, [2, 3])  # after the synthetic ones
        self.assertTrue({pair_index(sharp[i]) for i in real} <= {2, 3})

    def test_validation_uses_the_held_out_fold_and_says_so(self):
        trainer = train.Trainer(self.config(), os.path.join(
            self.folder, "val"), log=quiet)
        _, _, real_blurry, real_sharp = trainer.validation_data()
        self.assertEqual({pair_index(s) for s in real_sharp}, {0, 1})
        record = trainer.validate()
        self.assertEqual(record["val_real_pairs"], "held-out fold 0")
        self.assertIn("fold 0 held out", trainer.summary())

    def test_interrupted_run_resumes_exactly(self):
        straight = os.path.join(self.folder, "straight")
        train.Trainer(self.config(), straight, log=quiet).run()
        resumed = os.path.join(self.folder, "resumed")
        self.assertIsNone(train.Trainer(self.config(), resumed,
                                        log=quiet).run(stop_at=3))
        again = train.Trainer(self.config(), resumed, log=quiet)
        self.assertEqual(again.step, 2)
        again.run()

        def steps(run):
            with open(os.path.join(run, "log.jsonl")) as f:
                return [(r["step"], r["loss"]) for r in map(json.loads, f)
                        if "loss" in r]
        self.assertEqual(steps(straight), steps(resumed))

    def test_bad_real_options_are_refused(self):
        with self.assertRaisesRegex(ValueError, "needs --real-pairs"):
            train.Trainer(self.config(real_pairs=""), os.path.join(
                self.folder, "a"), log=quiet)
        with self.assertRaisesRegex(ValueError, r"lie in \[0, 1\]"):
            train.Trainer(self.config(real_share=1.5), os.path.join(
                self.folder, "b"), log=quiet)
        with self.assertRaisesRegex(FileNotFoundError, "no real pairs at"):
            train.Trainer(self.config(real_pairs=os.path.join(
                self.folder, "nowhere")), os.path.join(self.folder, "c"),
                log=quiet)

    def test_a_run_may_start_from_another_runs_ema(self):
        parent = os.path.join(self.folder, "parent")
        train.Trainer(self.config(steps=2), parent, log=quiet).run()
        state = torch.load(os.path.join(parent, "last.pt"))
        child = train.Trainer(
            self.config(init_from=os.path.join(parent, "last.pt"),
                        init_weights="ema"),
            os.path.join(self.folder, "child"), log=quiet)
        for net in (child.net, child.ema):
            for key, value in net.state_dict().items():
                self.assertTrue(torch.equal(value, state["ema"][key]), key)
        differs = any(not torch.equal(state["ema"][k], state["model"][k])
                      for k in state["model"]
                      if state["model"][k].is_floating_point())
        self.assertTrue(differs, "EMA and weights should differ here")
        with self.assertRaisesRegex(ValueError, "current or ema"):
            train.Trainer(self.config(init_from=os.path.join(
                parent, "last.pt"), init_weights="best"),
                os.path.join(self.folder, "bad"), log=quiet)


@unittest.skipUnless(HAVE_PHOTOS, NO_DATA)
class CalibratedSynthesisTest(unittest.TestCase):
    def test_measured_kernels_come_only_from_the_training_folds(self):
        config = train.synth_config(train.TrainConfig(bank_share=0.5,
                                                      fold=2))
        self.assertEqual(config.bank_folds, "0,1,3,4")
        self.assertEqual(config.bank_share, 0.5)
        everything = train.synth_config(train.TrainConfig(bank_share=0.5))
        self.assertEqual(everything.bank_folds, "")
        with self.assertRaisesRegex(ValueError, "fold 7"):
            train.synth_config(train.TrainConfig(bank_share=0.5, fold=7))

    def test_noise_scale_scales_only_the_noise(self):
        def batch(**changes):
            synth = train.DefocusSynth(data=DATA, config=train.SynthConfig(
                **changes))
            return synth.batch(3, 2, 32)
        default, same = batch(), batch(noise_scale=1.0)
        silent, no_noise = batch(noise_scale=0.0), batch(noise=False)
        for a, b in ((default, same), (silent, no_noise)):
            self.assertTrue(torch.equal(a[0], b[0]))
            self.assertTrue(torch.equal(a[1], b[1]))
        quieter = batch(noise_scale=0.35)
        self.assertTrue(torch.equal(quieter[1], default[1]))
        error = (quieter[0] - silent[0]).abs().mean()
        self.assertLess(error, (default[0] - silent[0]).abs().mean())


if __name__ == "__main__":
    unittest.main()
