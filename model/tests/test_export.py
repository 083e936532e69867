"""The exported TorchScript model: the command line, the metadata the C++
engine reads, any image size, agreement with eager PyTorch, safety on
degenerate images. The files exported here use RANDOM weights (the
test-only --random-init): they check the plumbing, not deblurring."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

import torch

from fdikp.export import DeblurModel, read_metadata
from fdikp.registry import state_dict_from_checkpoint, with_tone_sigma
from fdikp.contract import METADATA_KEYS
from fdikp.network import FDIKP, network_config

torch.set_num_threads(2)

MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 3
PROBE = "32"  # side of the memory probe image: small, to keep tests fast


def run_export(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fdikp.export", *args],
                          cwd=MODEL_DIR, capture_output=True, text=True)


def random_net(seed: int = SEED, config: str = "fdikp") -> FDIKP:
    """What --random-init exports: random weights, the output convolution
    included (the identity start would zero it)."""
    torch.manual_seed(seed)
    net = FDIKP(config).eval()
    net.out_conv.reset_parameters()
    return net


class ExportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.model_file = os.path.join(cls.tmp.name, "random.pt")
        result = run_export("--random-init", "--seed", str(SEED),
                            "--out", cls.model_file,
                            "--memory-probe-size", PROBE)
        if result.returncode != 0:
            raise RuntimeError(result.stderr)
        cls.stderr = result.stderr
        cls.model = torch.jit.load(cls.model_file)
        cls.eager = DeblurModel(random_net()).eval()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_model(self, image: torch.Tensor, stages: int) -> torch.Tensor:
        with torch.inference_mode():
            return self.model(image, stages)

    def test_metadata_is_the_flat_object_the_engine_reads(self):
        info = read_metadata(self.model_file)
        expected_types = {
            "format": str, "format_version": int, "architecture": str,
            "version": str, "default_stages": int, "max_stages": int,
            "base_multiple": int, "recommended_tile_size": int,
            "memory_bytes_per_pixel": (int, float), "parameters": int,
            "training": str, "configuration": str, "network": str,
            "name": str, "title": str, "speed_class": str,
        }
        self.assertEqual(set(info), set(expected_types))
        # Every key the engine's schema defines but the defocus map's (a
        # file without a map: tests/test_map_export.py) and the bfloat16
        # check's (written by fdikp.precision_check --stamp, after export)
        # and the measured tile overlap's (--tile-overlap, below), and
        # nothing else.
        self.assertEqual(set(info),
                         {k for k in METADATA_KEYS if not k.startswith("defocus_map")
                          and k not in ("bf16_psnr_change_db", "recommended_tile_overlap")})
        for key, kind in expected_types.items():
            self.assertIsInstance(info[key], kind, key)
        self.assertEqual(info["format"], "fdikp-deblur-model")
        self.assertEqual(info["format_version"], 1)
        self.assertEqual(info["architecture"], "FDIKP")
        self.assertEqual(info["configuration"], "fdikp")
        # How users choose it (engine/catalog.h); an untrained network's
        # title says so.
        self.assertEqual(info["name"], "fdikp")
        self.assertEqual(info["title"], "Untrained FDIKP (tests only)")
        self.assertEqual(info["speed_class"], "quality")
        # The configuration travels with the weights, as a JSON string
        # (the engine's metadata is a flat object).
        self.assertEqual(network_config(json.loads(info["network"])),
                         random_net().config)
        self.assertEqual(info["default_stages"], 3)
        self.assertEqual(info["max_stages"], 5)
        self.assertEqual(info["base_multiple"], 4)
        self.assertEqual(info["parameters"],
                         sum(p.numel() for p in random_net().parameters()))
        self.assertGreater(info["memory_bytes_per_pixel"], 0)

    def test_a_measured_tile_overlap_is_written_and_checked(self):
        out = os.path.join(self.tmp.name, "overlap.pt")
        result = run_export("--random-init", "--seed", str(SEED), "--out", out,
                            "--memory-probe-size", PROBE, "--tile-overlap", "24")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(read_metadata(out)["recommended_tile_overlap"], 24)
        # What the engine would refuse is not written.
        result = run_export("--random-init", "--seed", str(SEED), "--out", out + ".bad",
                            "--memory-probe-size", PROBE, "--tile-overlap", "-3")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("recommended_tile_overlap", result.stderr)
        self.assertFalse(os.path.exists(out + ".bad"))

    def test_random_weights_are_labelled_as_such(self):
        self.assertIn("TEST ONLY", read_metadata(self.model_file)["training"])
        self.assertIn("RANDOMLY INITIALISED", self.stderr)

    def test_any_size_comes_back_with_its_own_size(self):
        cases = [((1, 3, 1, 1), 3), ((1, 3, 17, 23), 3),
                 ((1, 3, 7, 1000), 3), ((2, 3, 17, 23), 2)]
        cases += [((1, 3, 1, 1), s) for s in range(1, 6)]
        cases += [((1, 3, 9, 13), s) for s in range(1, 6)]
        for shape, stages in cases:
            with self.subTest(shape=shape, stages=stages):
                out = self.run_model(torch.rand(shape), stages)
                self.assertEqual(tuple(out.shape), shape)
                self.assertTrue(torch.isfinite(out).all())
                self.assertGreaterEqual(out.min().item(), 0.0)
                self.assertLessEqual(out.max().item(), 1.0)

    def test_scripted_matches_eager(self):
        torch.manual_seed(0)
        for shape, stages in (((2, 3, 32, 32), 3), ((1, 3, 17, 23), 3),
                              ((1, 3, 20, 12), 1)):
            with self.subTest(shape=shape, stages=stages):
                image = torch.rand(shape)
                with torch.inference_mode():
                    want = self.eager(image, stages)
                got = self.run_model(image, stages)
                torch.testing.assert_close(got, want, atol=1e-5, rtol=0)

    def test_no_nan_on_degenerate_images(self):
        bright_pixel = torch.zeros(1, 3, 24, 24)
        bright_pixel[:, :, 5, 17] = 1.0
        for name, image in {"black": torch.zeros(1, 3, 24, 24),
                            "white": torch.ones(1, 3, 24, 24),
                            "grey": torch.full((1, 3, 24, 24), 0.3),
                            "single bright pixel": bright_pixel}.items():
            with self.subTest(image=name):
                self.assertTrue(torch.isfinite(self.run_model(image, 3)).all())

    def test_bad_arguments_raise(self):
        for stages in (0, 6):
            with self.assertRaisesRegex(Exception, "stages must be 1..5"):
                self.run_model(torch.rand(1, 3, 16, 16), stages)
        with self.assertRaisesRegex(Exception, "N x 3 x H x W"):
            self.run_model(torch.rand(1, 4, 16, 16), 3)


class CheckpointTest(unittest.TestCase):
    def test_checkpoint_layouts(self):
        state = random_net().state_dict()
        swa = {"module." + k: v for k, v in state.items()}
        swa["n_averaged"] = torch.tensor(7)
        for checkpoint in (state, {"model": state, "step": 10},
                           {"model": swa}):
            cleaned = state_dict_from_checkpoint(checkpoint)
            self.assertEqual(set(cleaned), set(state))

    def test_training_state_gives_its_ema_or_its_current_weights(self):
        current, ema = random_net(seed=1).state_dict(), random_net(seed=2).state_dict()
        state = {"model": current, "ema": ema, "step": 10}
        key = next(k for k, v in current.items() if v.is_floating_point())
        for weights_from, want in (("ema", ema), ("current", current)):
            got = state_dict_from_checkpoint(state, weights_from)
            self.assertTrue(torch.equal(got[key], want[key]), weights_from)
        # Without an EMA, both give the weights there are.
        got = state_dict_from_checkpoint({"model": current}, "ema")
        self.assertTrue(torch.equal(got[key], current[key]))
        with self.assertRaisesRegex(ValueError, "weights_from"):
            state_dict_from_checkpoint(state, "swa")

    def test_export_from_weights_keeps_them_and_the_summary(self):
        net = random_net(seed=5)
        with tempfile.TemporaryDirectory() as tmp:
            weights = os.path.join(tmp, "ckpt.pt")
            torch.save({"model": net.state_dict(),
                        "training_summary": "synthetic, 10 steps"}, weights)
            out = os.path.join(tmp, "model.pt")
            result = run_export("--weights", weights, "--out", out,
                                "--stages-default", "2",
                                "--memory-probe-size", PROBE)
            self.assertEqual(result.returncode, 0, result.stderr)
            info = read_metadata(out)
            self.assertEqual(info["training"], "synthetic, 10 steps")
            self.assertEqual(info["default_stages"], 2)
            model = torch.jit.load(out)
            image = torch.rand(1, 3, 16, 16)
            with torch.inference_mode():
                want = DeblurModel(net)(image, 2)
                torch.testing.assert_close(model(image, 2), want,
                                           atol=1e-5, rtol=0)

    def test_the_fast_configuration_travels_with_its_weights(self):
        """A training state of fdikp-s (compact, with its EMA) exports as
        fdikp-s, from the EMA, and runs as the eager network does."""
        net = random_net(seed=6, config="fdikp-s")
        ema = random_net(seed=7, config="fdikp-s")
        with tempfile.TemporaryDirectory() as tmp:
            weights = os.path.join(tmp, "last.pt")
            torch.save({"model": {k: v.half() for k, v in
                                  net.state_dict().items()},
                        "ema": {k: v.half() if v.is_floating_point() else v
                                for k, v in ema.state_dict().items()},
                        "network": net.config.to_dict(),
                        "training_summary": "FDIKP-S, 5 steps"}, weights)
            out = os.path.join(tmp, "model.pt")
            result = run_export("--weights", weights, "--out", out,
                                "--memory-probe-size", PROBE)
            self.assertEqual(result.returncode, 0, result.stderr)
            info = read_metadata(out)
            self.assertEqual(info["configuration"], "fdikp-s")
            self.assertEqual(info["parameters"],
                             sum(p.numel() for p in ema.parameters()))
            ema.load_state_dict({k: v.half().float()
                                 if v.is_floating_point() else v
                                 for k, v in ema.state_dict().items()})
            image = torch.rand(1, 3, 20, 28)
            with torch.inference_mode():
                torch.testing.assert_close(
                    torch.jit.load(out)(image, 3),
                    DeblurModel(ema.eval())(image, 3), atol=1e-5, rtol=0)

    def test_tone_sigma_is_set_at_export_and_travels(self):
        """--tone-sigma: the same weights, keeping the input's tone; the
        setting is in the file's configuration and the file runs as the
        eager network with it does."""
        net = random_net(seed=8, config="fdikp-s")
        with tempfile.TemporaryDirectory() as tmp:
            weights = os.path.join(tmp, "ckpt.pt")
            torch.save({"model": net.state_dict(),
                        "network": net.config.to_dict()}, weights)
            out = os.path.join(tmp, "model.pt")
            result = run_export("--weights", weights, "--out", out,
                                "--tone-sigma", "32",
                                "--memory-probe-size", PROBE)
            self.assertEqual(result.returncode, 0, result.stderr)
            stored = json.loads(read_metadata(out)["network"])
            self.assertEqual(stored["tone_sigma"], 32.0)
            toned = with_tone_sigma(net, 32.0).eval()
            image = torch.rand(1, 3, 40, 56)
            with torch.inference_mode():
                got = torch.jit.load(out)(image, 3)
                torch.testing.assert_close(got, DeblurModel(toned)(image, 3),
                                           atol=1e-5, rtol=0)
                self.assertFalse(torch.equal(got, DeblurModel(net)(image, 3)))
            for bad, message in (("-1", "0 or more"),):
                result = run_export("--weights", weights, "--out", out,
                                    "--tone-sigma", bad)
                self.assertNotEqual(result.returncode, 0)
                self.assertIn(message, result.stderr)

    def test_with_tone_sigma_copies_and_refuses_what_cannot(self):
        """The same weights in a copy: the original keeps its tone, the
        random generators are untouched (a new run's seeded start does
        not depend on it), DeepRFTv2 and a negative sigma are refused."""
        net = random_net(config="fdikp-s").train()
        before = torch.random.get_rng_state()
        toned = with_tone_sigma(net, 24.0)
        self.assertTrue(torch.equal(before, torch.random.get_rng_state()))
        self.assertEqual((net.tone_sigma, toned.tone_sigma), (0.0, 24.0))
        self.assertEqual(toned.config.tone_sigma, 24.0)
        self.assertTrue(toned.training)
        for name, value in net.state_dict().items():
            self.assertTrue(torch.equal(value, toned.state_dict()[name]))
        with self.assertRaisesRegex(ValueError, "0 or more"):
            with_tone_sigma(net, -1.0)
        from fdikp.deeprftv2 import DeepRFTv2
        with self.assertRaisesRegex(ValueError, "only FDIKP"):
            with_tone_sigma(DeepRFTv2("deeprftv2-s"), 8.0)

    def test_random_init_refuses_a_training_summary(self):
        result = run_export("--random-init", "--out", "unused.pt",
                            "--training-summary", "trained for days")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("--random-init has none", result.stderr)


if __name__ == "__main__":
    unittest.main()
