"""Training learns, resumes exactly, and its weights export (fdikp.train)."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from fdikp import export, registry, train
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

    def test_warm_up_ramps_the_rate_linearly(self):
        config = train.TrainConfig(steps=100, phase2_steps=0, warmup=10,
                                   lr=1e-3, milestones="")
        self.assertAlmostEqual(config.lr_at(0), 1e-4)
        self.assertAlmostEqual(config.lr_at(4), 5e-4)
        self.assertEqual(config.lr_at(9), 1e-3)
        self.assertEqual(config.lr_at(50), 1e-3)

    def test_crops_must_fit_the_stage_count(self):
        with self.assertRaisesRegex(ValueError, "--crop2 40 is not a "
                                    "multiple of 16"):
            train.check_sizes(train.TrainConfig(stages=3, crop=32,
                                                crop2=40, val_crop=32,
                                                real_crop=32))

    def test_gain_loss_is_minus_the_mean_per_image_db_gain(self):
        torch.manual_seed(1)
        sharp = torch.rand(2, 3, 16, 16)
        blurry = F.avg_pool2d(sharp, 3, 1, 1, count_include_pad=False)
        levels = [F.avg_pool2d(blurry, 2), blurry]
        # The input itself gains nothing.
        self.assertAlmostEqual(float(train.gain_loss(levels, blurry, sharp)),
                               0.0, 6)
        # Halving one image's error and leaving the other's: each image
        # counts alike, so the loss is minus half of one image's gain
        # (10 log10 of its loss ratio), whatever the images' errors.
        better = blurry.clone()
        better[0] = sharp[0] + 0.5 * (blurry[0] - sharp[0])
        coarse = [F.avg_pool2d(better, 2), better]
        per_image = [train.per_image_loss(o, t) for o, t in
                     zip(coarse, [F.avg_pool2d(sharp, 2), sharp])]
        reference = [train.per_image_loss(o, t) for o, t in
                     zip(levels, [F.avg_pool2d(sharp, 2), sharp])]
        floor = train.GAIN_LOSS_FLOOR
        expected = sum(w * 10 * np.log10(float((p[0] + floor)
                                               / (r[0] + floor))) / 2
                       for w, p, r in zip((0.2, 1.0), per_image, reference))
        self.assertAlmostEqual(float(train.gain_loss(coarse, blurry, sharp)),
                               expected / 1.2, 5)
        self.assertLess(expected, 0)

    def test_gain_loss_weighs_a_sharp_image_like_a_blurred_one(self):
        # The same absolute damage costs a nearly sharp image many dB and
        # a heavily blurred one a fraction: the pooled loss barely sees
        # it, the gain loss does.
        torch.manual_seed(2)
        sharp = torch.rand(2, 3, 16, 16)
        blurry = sharp.clone()
        blurry[1] = 0.5  # heavily degraded; image 0 is sharp already
        noise = 0.01 * torch.randn(2, 3, 16, 16)
        damaged = blurry + noise
        pooled_cost = (float(train.scale_loss(damaged, sharp))
                       / float(train.scale_loss(blurry, sharp)))
        self.assertLess(pooled_cost, 1.05)
        self.assertGreater(float(train.gain_loss([damaged], blurry, sharp)),
                           10.0)

    def test_unknown_loss_is_refused(self):
        with self.assertRaisesRegex(ValueError, "--loss must be one of"):
            train.check_sizes(train.TrainConfig(loss="l1"))

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
        net.out_conv.reset_parameters()  # from random weights, as before
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        history = []
        for _ in range(6):
            loss = train.multiscale_loss(net(blurry, 2), sharp)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.append(float(loss))
        self.assertLess(history[-1], 0.7 * history[0], history)


class DeepRFTv2LossTest(unittest.TestCase):
    def test_every_output_of_every_column_is_supervised(self):
        from fdikp.deeprftv2 import DeepRFTv2
        torch.manual_seed(0)
        net = DeepRFTv2("deeprftv2-s").train()
        sharp = torch.rand(2, 3, 32, 32)
        blurry = F.avg_pool2d(sharp, 3, 1, 1, count_include_pad=False)
        outputs = train.supervised_outputs(net, blurry, 1)
        self.assertEqual(len(outputs), 4 * net.config.columns)
        self.assertEqual([o.shape[2] for o in outputs[:4]], [16, 16, 32, 32])
        # Untrained, every output is its input: the gain loss is 0, and
        # every image head (the first column's too) gets a gradient.
        loss = train.gain_loss(outputs, blurry, sharp)
        self.assertAlmostEqual(float(loss), 0.0, 5)
        loss.backward()
        for head in net.heads():
            self.assertGreater(float(head.weight.grad.abs().sum()), 0.0)

    def test_deeprftv2_trains_with_one_stage_only(self):
        with self.assertRaisesRegex(ValueError, "--stages must be 1..1 for "
                                    "deeprftv2-s, got 3"):
            train.check_sizes(train.TrainConfig(network="deeprftv2-s",
                                                stages=3, crop=32, crop2=32,
                                                val_crop=32, real_crop=32))
        train.check_sizes(train.TrainConfig(network="deeprftv2-s", stages=1,
                                            crop=40, crop2=32, val_crop=32,
                                            real_crop=32))
        with self.assertRaisesRegex(ValueError, "multiple of 8"):
            train.check_sizes(train.TrainConfig(network="deeprftv2-s",
                                                stages=1, crop=36, crop2=32,
                                                val_crop=32, real_crop=32))


@unittest.skipUnless(HAVE_PHOTOS, NO_DATA)
class DeepRFTv2TrainingTest(unittest.TestCase):
    """DeepRFTv2 through the same trainer: kill and resume give the same
    run bit for bit, and its weights export and restore an image."""

    def test_interrupted_run_resumes_exactly_and_exports(self):
        config = tiny_config(network="deeprftv2-s", stages=1, loss="psnr",
                             ema_decay=0.9, phase2_steps=0, milestones="")
        with tempfile.TemporaryDirectory() as folder:
            straight = os.path.join(folder, "straight")
            final = train.Trainer(config, straight, log=quiet).run()
            resumed = os.path.join(folder, "resumed")
            killed = train.Trainer(config, resumed, log=quiet)
            self.assertIsNone(killed.run(stop_at=3))  # checkpoint at step 2
            again = train.Trainer(config, resumed, log=quiet)
            self.assertEqual(again.step, 2)
            final_again = again.run()
            self.assertEqual(losses(straight), losses(resumed))
            a, b = torch.load(final), torch.load(final_again)
            self.assertEqual(a["network"]["architecture"], "DeepRFTv2")
            for key in a["model"]:
                self.assertTrue(torch.equal(a["model"][key], b["model"][key]),
                                key)
            net = registry.load_network(final)
            self.assertEqual(registry.architecture(net), "DeepRFTv2")
            with torch.no_grad():
                out = net(torch.rand(1, 3, 24, 40), 1)
            self.assertEqual(tuple(out.shape), (1, 3, 24, 40))


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


@unittest.skipUnless(HAVE_PHOTOS, NO_DATA)
class ChunkedCpuTrainingTest(unittest.TestCase):
    """What chunked CPU training relies on: a data process and pair reuse
    that change nothing but speed, compact resumable state, the EMA, and a
    log that carries training hours across chunks."""

    def setUp(self):
        self.folder = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.folder)

    def test_data_process_and_inline_give_the_same_batches(self):
        for reuse in (1, 3):
            config = tiny_config(steps=7, reuse=reuse)
            args = dict(data=DATA, config=train.SynthConfig(), split="train",
                        seed=0, device="cpu")
            inline = train.BatchSource(args, config, 2)
            ahead = train.BatchSource(
                args, replace(config, prefetch=2), 2)
            try:
                for step in range(2, 7):
                    with self.subTest(reuse=reuse, step=step):
                        for a, b in zip(inline.get(step), ahead.get(step)):
                            self.assertTrue(torch.equal(a, b))
            finally:
                ahead.close()

    def test_reuse_draws_from_the_latest_batches(self):
        config = tiny_config(steps=12, reuse=3, batch=2)
        args = dict(data=DATA, config=train.SynthConfig(), split="train",
                    seed=0, device="cpu")
        source = train.BatchSource(args, config, 0)
        synth = train.DefocusSynth(**args)
        seen = set()
        for step in range(9):
            blurry, _ = source.get(step)
            self.assertEqual(blurry.shape[0], 2)
            newest = step // 3
            allowed = torch.cat([synth.batch(j, 2, 32)[0] for j in
                                 range(max(0, newest - 2), newest + 1)])
            for sample in blurry:
                match = [i for i, x in enumerate(allowed)
                         if torch.equal(x, sample)]
                self.assertTrue(match, "a sample from outside the pool")
                seen.add(sample.sum().item())
        # 3 new batches of 2 pairs: more distinct pairs than steps' worth
        # of one batch.
        self.assertGreater(len(seen), 2)

    def test_validation_scores_the_ema_and_the_current_weights(self):
        config = tiny_config(steps=3, phase2_steps=0, ema_decay=0.9,
                             milestones="")
        trainer = train.Trainer(config, os.path.join(self.folder, "val"),
                                log=quiet)
        for _ in range(3):
            trainer.train_step()
        record = trainer.validate()
        self.assertEqual(record["weights"], "ema")
        self.assertEqual(record["val_synth_psnr"],
                         trainer.scores(trainer.ema)["val_synth_psnr"])
        self.assertEqual(record["current_val_synth_psnr"],
                         trainer.scores(trainer.net)["val_synth_psnr"])
        # After 3 steps the EMA and the weights differ, and so do scores.
        self.assertNotEqual(record["val_synth_loss"],
                            record["current_val_synth_loss"])
        self.assertNotIn("current_val_synth_input_psnr", record)
        # An explicit network is scored alone.
        alone = trainer.validate(trainer.net)
        self.assertEqual(alone["weights"], "current")
        self.assertFalse(any(k.startswith("current_") for k in alone))

    def test_compact_state_resumes_and_is_small(self):
        config = tiny_config(steps=6, phase2_steps=0, ema_decay=0.9,
                             compact_state="yes", milestones="")
        compact = os.path.join(self.folder, "compact")
        first = train.Trainer(config, compact, log=quiet)
        self.assertIsNone(first.run(stop_at=4))   # checkpoint at step 4
        state = torch.load(os.path.join(compact, "last.pt"))
        self.assertEqual(state["step"], 4)
        self.assertEqual(state["network"]["name"], "fdikp")
        self.assertTrue(all(v.dtype == torch.float16
                            for v in state["model"].values()
                            if v.is_floating_point()))
        moments = [v for per in state["optimizer"]["state"].values()
                   for k, v in per.items() if k.startswith("exp_avg")]
        self.assertTrue(moments)
        self.assertTrue(all(v.dtype == torch.bfloat16 for v in moments))
        self.assertGreater(state["train_seconds"], 0)
        again = train.Trainer(config, compact, log=quiet)
        self.assertEqual(again.step, 4)
        for key, value in again.net.state_dict().items():
            if value.is_floating_point():
                self.assertTrue(torch.equal(value,
                                            state["model"][key].float()))
        final = again.run()
        weights = torch.load(final)
        self.assertIn("EMA", weights["training_summary"])
        self.assertEqual(weights["network"]["name"], "fdikp")
        for key, value in weights["model"].items():
            # the final weights are the EMA, not the current weights
            if value.is_floating_point() and key.startswith("out_conv"):
                self.assertFalse(torch.equal(
                    value, again.net.state_dict()[key]), key)
        with open(os.path.join(compact, "log.jsonl")) as f:
            records = [json.loads(line) for line in f]
        steps = [r for r in records if "loss" in r]
        self.assertEqual([r["step"] for r in steps], list(range(1, 7)))
        hours = [r["hours"] for r in steps]
        self.assertEqual(hours, sorted(hours))
        for record in steps:
            self.assertIn("data_wait_s_per_step", record)
            self.assertTrue(record["hardware"].startswith("cpu:"))

    def test_a_batch_that_is_not_finite_is_not_learned_from(self):
        trainer = train.Trainer(tiny_config(steps=2, phase2_steps=0, ema_decay=0.9),
                                os.path.join(self.folder, "nan"), log=quiet)

        class Source:
            def get(self, step):
                torch.manual_seed(step)
                sharp = torch.rand(2, 3, 32, 32)
                blurry = F.avg_pool2d(sharp, 5, 1, 2, count_include_pad=False)
                return blurry, sharp * float("nan") if step == 0 else sharp

            def close(self):
                pass
        trainer.source = Source()
        # The weights (batch norms' running statistics follow the forward).
        before = {k: v.detach().clone() for k, v in trainer.net.named_parameters()}
        trainer.train_step()
        self.assertEqual(trainer.skipped_steps, 1)
        self.assertEqual(trainer.step, 1)
        for key, value in trainer.net.named_parameters():
            self.assertTrue(torch.equal(value, before[key]), key)
        self.assertTrue(all(torch.isfinite(v).all() for v in trainer.ema.state_dict().values()
                            if v.is_floating_point()))
        trainer.train_step()
        self.assertEqual(trainer.skipped_steps, 1)
        self.assertFalse(all(torch.equal(v, before[k])
                             for k, v in trainer.net.named_parameters()))

    def test_options_an_older_trainer_saved_are_ignored(self):
        run = os.path.join(self.folder, "older")
        train.Trainer(tiny_config(steps=2, phase2_steps=0, ckpt_every=1),
                      run, log=quiet).run()
        state_file = os.path.join(run, "last.pt")
        state = torch.load(state_file)
        state["config"]["retired_option"] = True
        torch.save(state, state_file)
        said = []
        again = train.Trainer(tiny_config(steps=3, phase2_steps=0), run,
                              log=said.append)
        self.assertEqual(again.step, 2)
        self.assertTrue(any("retired_option" in line for line in said),
                        said)

    def test_a_run_starts_from_another_runs_weights(self):
        parent = os.path.join(self.folder, "parent")
        train.Trainer(tiny_config(steps=2, phase2_steps=0, ckpt_every=1,
                                  ema_decay=0.9, milestones=""),
                      parent, log=quiet).run()
        state = torch.load(os.path.join(parent, "last.pt"))
        child = train.Trainer(
            tiny_config(steps=2, phase2_steps=0, loss="psnr", seed=1,
                        ema_decay=0.9, milestones="", init_from=os.path.join(
                            parent, "last.pt")),
            os.path.join(self.folder, "child"), log=quiet)
        self.assertEqual(child.step, 0)
        self.assertEqual(child.train_seconds, state["train_seconds"])
        for net in (child.net, child.ema):
            for key, value in net.state_dict().items():
                self.assertTrue(torch.equal(value, state["model"][key]), key)
        child.run()
        with open(os.path.join(self.folder, "child", "log.jsonl")) as f:
            records = [json.loads(line) for line in f]
        self.assertEqual(records[0]["init_from"]["step"], 2)
        self.assertEqual(records[0]["config"]["loss"], "psnr")
        steps = [r for r in records if "loss" in r]
        self.assertTrue(steps)
        for record in steps:
            self.assertEqual(record["input_loss"], 0.0)
            self.assertGreater(record["hours"] * 3600,
                               state["train_seconds"])
        # Another network's weights are refused.
        state["network"] = dict(state["network"], name="other")
        torch.save(state, os.path.join(parent, "last.pt"))
        with self.assertRaisesRegex(ValueError, "--init-from"):
            train.Trainer(tiny_config(init_from=os.path.join(
                parent, "last.pt")), os.path.join(self.folder, "other"),
                log=quiet)

    def test_a_resumed_run_may_start_keeping_the_tone(self):
        """tone_sigma has no weights: a run saved without it (or before
        it existed) resumes with it, and its state then carries it."""
        run = os.path.join(self.folder, "tone")
        train.Trainer(tiny_config(steps=2, phase2_steps=0, ckpt_every=1),
                      run, log=quiet).run()
        state_file = os.path.join(run, "last.pt")
        state = torch.load(state_file)
        del state["network"]["tone_sigma"]   # as older states are
        torch.save(state, state_file)
        again = train.Trainer(tiny_config(steps=3, phase2_steps=0,
                                          ckpt_every=1, tone_sigma=8.0),
                              run, log=quiet, overrides=["tone_sigma"])
        self.assertEqual(again.step, 2)
        self.assertEqual(again.net.tone_sigma, 8.0)
        again.run()
        self.assertEqual(torch.load(state_file)["network"]["tone_sigma"], 8.0)

    def test_a_run_refuses_another_networks_state(self):
        run = os.path.join(self.folder, "mixed")
        train.Trainer(tiny_config(steps=2, phase2_steps=0, ckpt_every=1),
                      run, log=quiet).run()
        state_file = os.path.join(run, "last.pt")
        state = torch.load(state_file)
        state["network"] = dict(state["network"], name="other")
        torch.save(state, state_file)
        with self.assertRaisesRegex(ValueError, "the checkpoint holds"):
            train.Trainer(tiny_config(steps=4, phase2_steps=0), run,
                          log=quiet)


if __name__ == "__main__":
    unittest.main()
