"""model/recipes.sh: every recipe the training scripts name is a valid
fdikp.train command line, and the shipped file's recipe stays what made it."""

import os
import subprocess
import unittest

from fdikp.train_config import check_sizes, parse_config

MODEL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = "runs/fdikp-s-psnr-step6011.pt"


def recipe(function: str, name: str, *more: str):
    """The options `function name more...` sets, or the shell's status."""
    script = ('source ./recipes.sh; %s "$@" || exit $?; '
              'printf "%%s\\0" "${recipe[@]}"' % function)
    done = subprocess.run(["bash", "-c", script, "recipes", name, *more],
                          cwd=MODEL_DIR, capture_output=True, text=True)
    if done.returncode:
        return done.returncode
    return done.stdout.split("\0")[:-1]


def cv_names():
    done = subprocess.run(["bash", "-c", 'source ./recipes.sh; echo "$cv_recipes"'],
                          cwd=MODEL_DIR, capture_output=True, text=True, check=True)
    return done.stdout.split()


class CrossValidationRecipesTest(unittest.TestCase):
    def test_every_recipe_parses(self):
        names = cv_names()
        self.assertIn("ft-c384", names)
        for name in names:
            with self.subTest(recipe=name):
                options = recipe("cv_recipe", name, SHIPPED)
                self.assertIsInstance(options, list)
                _, config, given = parse_config(["--run", "x"] + options)
                check_sizes(config)
                self.assertEqual(config.init_from, SHIPPED)
                self.assertEqual(config.real_pairs, "dpdd1024-dev")
                self.assertEqual(config.phase2_steps, 0)
                self.assertIn("steps", given)

    def test_the_shipped_recipe(self):
        # The sixth shipped file: ft-c384x2 on every fold (data/MODEL_CARD.md);
        # the fifth was ft-c384, its first 250 steps.
        _, config, _ = parse_config(["--run", "x"] + recipe("cv_recipe", "ft-c384x2", SHIPPED))
        self.assertEqual((config.network, config.loss, config.seed), ("fdikp-s", "psnr", 11))
        self.assertEqual((config.batch, config.crop, config.steps), (2, 384, 500))
        _, fifth, _ = parse_config(["--run", "x"] + recipe("cv_recipe", "ft-c384", SHIPPED))
        self.assertEqual({k: v for k, v in vars(fifth).items() if k != "steps"},
                         {k: v for k, v in vars(config).items() if k != "steps"})
        self.assertEqual((config.lr, config.warmup, config.ema_decay), (1e-4, 20, 0.99))
        self.assertEqual((config.real_share, config.tone_sigma), (0.5, 32.0))
        self.assertEqual((config.init_weights, config.amp), ("ema", "bf16"))

    def differs_only_in(self, name: str, field: str, base_name: str = "ft-c384"):
        """Recipe `name`'s config and `base_name`'s, asserted equal in every
        option but `field`."""
        _, config, _ = parse_config(["--run", "x"] + recipe("cv_recipe", name, SHIPPED))
        _, base, _ = parse_config(["--run", "x"] + recipe("cv_recipe", base_name, SHIPPED))
        self.assertEqual({k: v for k, v in vars(base).items() if k != field},
                         {k: v for k, v in vars(config).items() if k != field})
        return config, base

    def test_the_four_stage_recipe_is_ft_c384_at_four_stages(self):
        config, _ = self.differs_only_in("ft-c384s4", "stages")
        self.assertEqual(config.stages, 4)

    def test_the_rate_recipe_is_ft_c384_at_three_times_the_rate(self):
        config, base = self.differs_only_in("ft-c384lr3", "lr")
        self.assertEqual((base.lr, config.lr), (1e-4, 3e-4))

    def test_the_half_rate_recipe_is_ft_c384x2_at_half_the_rate(self):
        config, base = self.differs_only_in("ft-c384lr05x2", "lr", "ft-c384x2")
        self.assertEqual((base.lr, config.lr), (1e-4, 5e-5))

    def test_later_options_win(self):
        options = recipe("cv_recipe", "ft-c384", SHIPPED) + ["--steps", "30"]
        self.assertEqual(parse_config(["--run", "x"] + options)[1].steps, 30)

    def test_an_unknown_recipe(self):
        self.assertEqual(recipe("cv_recipe", "no-such-recipe", SHIPPED), 2)


class ChunkRecipesTest(unittest.TestCase):
    def test_named_runs_and_networks(self):
        for name, network in (("fdikp-s", "fdikp-s"), ("fdikp-s-psnr", "fdikp-s"),
                              ("cmp-fdikp-s", "fdikp-s"),
                              ("cmp-deeprftv2-s", "deeprftv2-s"), ("fdikp", "fdikp")):
            with self.subTest(run=name):
                _, config, _ = parse_config(["--run", "x"] + recipe("chunk_recipe", name))
                check_sizes(config)
                self.assertEqual(config.network, network)


if __name__ == "__main__":
    unittest.main()
