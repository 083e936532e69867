"""Training learns, resumes exactly, and its weights export (fdikp.train)."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import numpy as np
import torch
import torch.nn.functional as F

from fdikp import export, train
from fdikp.network import FDIKP
from fdikp.synth import data_dir

DATA = data_dir()
HAVE_PHOTOS = os.path.isdir(os.path.join(DATA, "train-photos"))
NO_DATA = "no training photos at %s (set FDIKP_DATA)" % DATA


def tiny_config(**changes):
    """4 steps on 32 x 32 crops, 2 stages; the last 2 steps are phase 2
    (SWA), a checkpoint every 2 steps."""
    config = dict(steps=4, phase2_steps=2, batch=2, crop=32, batch2=2,
                  crop2=32, stages=2, val_every=100, val_count=2,
                  val_crop=32, real_count=0, log_every=1, ckpt_every=2,
                  ckpt_minutes=1e9, bn_batches=1, swa_every=1,
                  device="cpu", data=DATA)
    config.update(changes)
    return train.TrainConfig(**config)


def quiet(_line):
    pass


def losses(run_dir):
    """(step, loss, lr) of every log record; timings differ run to run."""
    with open(os.path.join(run_dir, "log.jsonl")) as f:
        records = [json.loads(line) for line in f]
    return [(r["step"], r["loss"], r["lr"]) for r in records if "loss" in r]


class LossTest(unittest.TestCase):
    def test_perfect_outputs_have_zero_loss(self):
        sharp = torch.rand(2, 3, 16, 16)
        outputs = [F.avg_pool2d(sharp, 2), sharp]
        self.assertEqual(float(train.multiscale_loss(outputs, sharp)), 0.0)

    def test_scales_are_weighted_1_02_01_finest_first(self):
        sharp = torch.zeros(1, 3, 16, 16)
        outputs = [torch.full((1, 3, s, s), 0.1) for s in (4, 8, 16)]
        expected = sum(w * float(train.scale_loss(o, torch.zeros_like(o)))
                       for w, o in zip((0.1, 0.2, 1.0), outputs))
        self.assertAlmostEqual(float(train.multiscale_loss(outputs, sharp)),
                               expected, 6)

    def test_schedule(self):
        config = train.TrainConfig(steps=100, phase2_steps=20,
                                   milestones="0.5,0.75")
        self.assertEqual(config.lr_at(0), 1e-4)
        self.assertEqual(config.lr_at(40), 5e-5)
        self.assertEqual(config.lr_at(60), 2.5e-5)
        self.assertEqual(config.lr_at(80), config.lr2)
        self.assertEqual(config.batch_shape(80), (2, 512))

    def test_crops_must_fit_the_stage_count(self):
        with self.assertRaisesRegex(ValueError, "--crop2 40 is not a "
                                    "multiple of 16"):
            train.check_sizes(train.TrainConfig(stages=3, crop=32,
                                                crop2=40, val_crop=32,
                                                real_crop=32))

    def test_dihedral_moves_blurry_and_sharp_alike(self):
        image = torch.arange(9.0).view(1, 1, 3, 3).expand(16, 1, 3, 3)
        generator = torch.Generator().manual_seed(0)
        first, second = train.dihedral([image, image + 100], generator)
        self.assertTrue(torch.equal(second, first + 100))
        self.assertEqual(len({tuple(x.flatten().tolist()) for x in first}), 8)


class LearningTest(unittest.TestCase):
    def test_a_few_steps_lower_the_loss(self):
        torch.manual_seed(0)
        sharp = F.interpolate(torch.rand(2, 3, 8, 8), size=32, mode="bicubic",
                              align_corners=False).clamp(0, 1)
        blurry = F.avg_pool2d(sharp, 5, 1, 2, count_include_pad=False)
        net = FDIKP()
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        history = []
        for _ in range(6):
            loss = train.multiscale_loss(net(blurry, 2), sharp)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.append(float(loss))
        self.assertLess(history[-1], 0.7 * history[0], history)


@unittest.skipUnless(HAVE_PHOTOS, NO_DATA)
class ResumeAndExportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.mkdtemp()
        cls.straight = os.path.join(cls.folder, "straight")
        cls.final = train.Trainer(tiny_config(), cls.straight, log=quiet).run()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.folder)

    def test_interrupted_run_resumes_exactly(self):
        resumed = os.path.join(self.folder, "resumed")
        killed = train.Trainer(tiny_config(), resumed, log=quiet)
        self.assertIsNone(killed.run(stop_at=3))  # last checkpoint: step 2
        again = train.Trainer(tiny_config(), resumed, log=quiet)
        self.assertEqual(again.step, 2)
        final = again.run()
        self.assertEqual(losses(resumed), losses(self.straight))
        for name in ("final.pt", "last.pt"):
            expected = torch.load(os.path.join(self.straight, name))["model"]
            got = torch.load(os.path.join(resumed, name))["model"]
            for key in expected:
                self.assertTrue(torch.equal(expected[key], got[key]), key)
        self.assertEqual(final, os.path.join(resumed, "final.pt"))

    def test_exported_weights_load_and_run(self):
        model_file = os.path.join(self.folder, "model.pt")
        self.assertEqual(export.main(["--weights", self.final, "--out",
                                      model_file, "--memory-probe-size",
                                      "32"]), 0)
        model = torch.jit.load(model_file)
        image = torch.rand(1, 3, 36, 44)
        with torch.inference_mode():
            out = model(image, 2)
        self.assertEqual(out.shape, image.shape)
        self.assertTrue(torch.isfinite(out).all())

        engine = os.environ.get("FDIKP_ENGINE_RUN", "")
        if not (engine and os.path.isfile(engine)):
            self.skipTest("FDIKP_ENGINE_RUN not set to an executable: C++ "
                          "engine check skipped (torch.jit.load passed)")
        source = os.path.join(self.folder, "in.npy")
        result = os.path.join(self.folder, "out.npy")
        np.save(source, image[0].permute(1, 2, 0).numpy().astype(np.float32))
        subprocess.run([engine, "--model", model_file, "--stages", "2",
                        "--tile-size", "0", "--device", "cpu", source,
                        result], check=True)
        engine_out = torch.from_numpy(np.load(result)).permute(2, 0, 1)
        self.assertTrue(torch.allclose(engine_out, out[0], atol=1e-4))


if __name__ == "__main__":
    unittest.main()
