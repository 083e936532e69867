"""A trained fdikp-s grows into fdikp-s3 (three strip-attention pairs)
computing the same function, and a run can start from it (fdikp.grow,
fdikp.train --init-from with a larger --network)."""

import json
import os
import shutil
import tempfile
import unittest

import torch

from fdikp import grow, train
from fdikp.network import CONFIGS, FDIKP
from fdikp.synth import data_dir

DATA = data_dir()
HAVE_PHOTOS = os.path.isdir(os.path.join(DATA, "train-photos"))
NO_DATA = "no training photos at %s (set FDIKP_DATA)" % DATA


def trained_looking(config_name, seed=3):
    """An fdikp network whose every weight is random (the output
    convolution too, so that it is not the identity start's identity)."""
    torch.manual_seed(seed)
    net = FDIKP(CONFIGS[config_name]).eval()
    net.out_conv.reset_parameters()
    return net


class GrowTest(unittest.TestCase):
    def test_the_grown_network_returns_what_its_parent_returned(self):
        parent = trained_looking("fdikp-s")
        child = FDIKP(CONFIGS["fdikp-s3"]).eval()
        parent_config = parent.config.to_dict()
        child.load_state_dict(grow.grown_state(
            parent.state_dict(), parent_config, child.state_dict()))
        self.assertEqual(len(child.dsrm.ddm.spatial), 6)
        torch.manual_seed(0)
        x = torch.rand(1, 3, 64, 48)
        with torch.no_grad():
            expected, got = parent(x, stages=2), child(x, stages=2)
        self.assertGreater((expected - x).abs().max().item(), 1e-3)
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
        # The added blocks are not dead: their zeroed outputs get a
        # gradient at once.
        child.train()
        child(x, stages=1)[-1].square().mean().backward()
        self.assertGreater(
            child.dsrm.ddm.spatial[4].fuse.weight.grad.abs().sum().item(), 0)

    def test_only_more_strip_pairs_is_growth(self):
        s = CONFIGS["fdikp-s"].to_dict()
        s3 = CONFIGS["fdikp-s3"].to_dict()
        self.assertTrue(grow.growable(s, s3))
        self.assertFalse(grow.growable(s3, s))
        self.assertFalse(grow.growable(s, dict(s3, width=64)))
        self.assertFalse(grow.growable(s, s))
        self.assertIn("1 -> 3", grow.describe(s, s3))

    def test_a_parent_weight_the_child_lacks_is_refused(self):
        parent = trained_looking("fdikp-s").state_dict()
        child = FDIKP(CONFIGS["fdikp-s3"]).state_dict()
        parent["extra.weight"] = torch.zeros(1)
        with self.assertRaisesRegex(ValueError, "lacks parent weights"):
            grow.grown_state(parent, CONFIGS["fdikp-s"].to_dict(), child)


@unittest.skipUnless(HAVE_PHOTOS, NO_DATA)
class GrownRunTest(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.folder, ignore_errors=True)

    def config(self, **changes):
        config = dict(steps=2, phase2_steps=0, batch=2, crop=32, stages=2,
                      val_every=100, val_count=2, val_crop=32, real_count=0,
                      log_every=1, ckpt_every=1, ckpt_minutes=1e9,
                      milestones="", ema_decay=0.9, device="cpu", data=DATA)
        config.update(changes)
        return train.TrainConfig(**config)

    def test_a_run_starts_from_a_smaller_networks_weights(self):
        parent = os.path.join(self.folder, "parent")
        train.Trainer(self.config(network="fdikp-s"), parent,
                      log=lambda _: None).run()
        state = torch.load(os.path.join(parent, "last.pt"))
        said = []
        child = train.Trainer(
            self.config(network="fdikp-s3", init_weights="ema",
                        init_from=os.path.join(parent, "last.pt")),
            os.path.join(self.folder, "child"), log=said.append)
        self.assertTrue(any("1 -> 3" in line for line in said), said)
        for net in (child.net, child.ema):
            weights = net.state_dict()
            for key, value in state["ema"].items():
                self.assertTrue(torch.equal(weights[key], value.float()), key)
            self.assertEqual(
                weights["dsrm.ddm.spatial.5.mlp_out.weight"].abs().sum(), 0)
        child.run()
        with open(os.path.join(self.folder, "child", "log.jsonl")) as f:
            first = json.loads(f.readline())
        self.assertEqual(first["init_from"]["grown_from"]["strip_blocks"], 1)
        self.assertEqual(first["network"]["strip_blocks"], 3)


if __name__ == "__main__":
    unittest.main()
