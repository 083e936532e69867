"""The training batches (fdikp.train): synthetic defocus (fdikp.synth)
mixed with crops of real pairs (fdikp.real_pairs), made inline or ahead by
a data process, and the flips/rotations every batch gets.

Batch k is a pure function of the run's seed and k, however it is made:
that is what makes a resumed run repeat an uninterrupted one exactly.
"""

import hashlib
import os
import time
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .folds import FOLDS_FILE, Folds
from .real_pairs import RealPairs, real_count, training_names
from .synth import BANK_FILE, DefocusSynth, SynthConfig, dihedral_transform
from .train_config import TrainConfig


def dihedral(images: Sequence[Tensor], generator: torch.Generator):
    """The same random one of the 8 flips/rotations on every tensor, chosen
    per sample."""
    choice = torch.randint(8, (images[0].shape[0],), generator=generator)
    return [torch.stack([dihedral_transform(x[i], c)
                         for i, c in enumerate(choice.tolist())])
            for x in images]


class BatchSource:
    """Training batches, made inline or ahead by a separate data process
    (config.prefetch > 0) so that the step does not wait for the
    generator; both give the same tensors.

    Generated batch j is synth.batch(j, *config.batch_shape(j * R)), a
    pure function of the seed and j, with R = config.reuse. With R = 1 step
    k trains on batch k. With R > 1 a new batch is generated every R steps
    and step k draws its samples (without replacement, seeded by k) from
    the pool of the R latest batches, so each pair is seen about R times,
    in different company and orientation: the generator costs 1/R per
    step."""

    def __init__(self, synth_args: Dict, config: TrainConfig, first: int,
                 real_args: Optional[Dict] = None):
        self.config = config
        self.reuse = max(1, config.reuse)
        self.pool: Dict[int, Tuple[Tensor, Tensor]] = {}
        self.synth: Optional[DefocusSynth] = None
        self.real: Optional[RealPairs] = None
        self.generated, self.wait_seconds = 0, 0.0
        start = self._pool_range(first)[0]
        if config.prefetch <= 0:
            self.synth = DefocusSynth(**synth_args)
            self.real = RealPairs(**real_args) if real_args else None
            return
        import torch.multiprocessing as mp
        context = mp.get_context("spawn")  # fork would copy OpenMP state
        self.queue = context.Queue(maxsize=config.prefetch)
        self.process = context.Process(
            target=_data_process,
            args=(synth_args, config, self.queue, start, real_args),
            daemon=True)
        self.process.start()

    def _pool_range(self, step: int) -> Tuple[int, int]:
        newest = step // self.reuse
        return max(0, newest - self.reuse + 1), newest

    def _shape(self, index: int) -> Tuple[int, int]:
        return self.config.batch_shape(index * self.reuse)

    def _generate(self, index: int) -> Tuple[Tensor, Tensor]:
        start = time.monotonic()
        if self.synth is not None:
            out = mixed_batch(self.synth, self.real, index,
                              *self._shape(index), self.config.real_share)
        else:
            got, blurry, sharp = self.queue.get()
            if isinstance(got, str):
                raise RuntimeError("data process failed: " + got)
            if got != index:
                raise RuntimeError("data process sent batch %d, expected %d"
                                   % (got, index))
            out = (torch.from_numpy(blurry), torch.from_numpy(sharp))
        self.wait_seconds += time.monotonic() - start
        self.generated += out[0].shape[0]
        return out

    def get(self, step: int) -> Tuple[Tensor, Tensor]:
        oldest, newest = self._pool_range(step)
        for index in list(self.pool):
            if index < oldest:
                del self.pool[index]
        for index in range(oldest, newest + 1):
            if index not in self.pool:
                self.pool[index] = self._generate(index)
        if self.reuse == 1:
            return self.pool[newest]
        blurry = torch.cat([self.pool[j][0] for j in sorted(self.pool)])
        sharp = torch.cat([self.pool[j][1] for j in sorted(self.pool)])
        size = self.config.batch_shape(step)[0]
        generator = torch.Generator().manual_seed(
            self.config.seed * 15_485_863 + step)
        pick = torch.randperm(blurry.shape[0], generator=generator)[:size]
        return blurry[pick], sharp[pick]

    def close(self) -> None:
        if self.synth is None and self.process.is_alive():
            self.process.terminate()
            self.process.join(5)


def mixed_batch(synth: DefocusSynth, real: Optional[RealPairs], index: int,
                batch: int, crop: int, share: float) -> Tuple[Tensor, Tensor]:
    """Generated batch `index`: real_count(batch, share) crops of real
    pairs (none without `real`) after the synthetic ones, on synth's
    device."""
    count = real_count(batch, share) if real is not None else 0
    parts = []
    if batch > count:
        parts.append(synth.batch(index, batch - count, crop))
    if count:
        parts.append(tuple(x.to(synth.device)
                           for x in real.batch(index, count, crop)))
    return (torch.cat([p[0] for p in parts]),
            torch.cat([p[1] for p in parts]))


def _data_process(synth_args: Dict, config: TrainConfig, queue,
                  first: int, real_args: Optional[Dict] = None) -> None:
    """The data process: batches first, first + 1, ... into the queue.

    One thread, at the lowest priority: on a CPU-only machine it fills the
    cores' idle moments instead of taking a core from the step's threads
    (whose OpenMP barriers slow the step 4x when a core is taken away)."""
    import queue as queues
    torch.set_num_threads(1)
    os.nice(19)
    parent = os.getppid()
    reuse = max(1, config.reuse)
    try:
        synth = DefocusSynth(**synth_args)
        real = RealPairs(**real_args) if real_args else None
        index = first
        while index * reuse < config.steps:
            blurry, sharp = mixed_batch(
                synth, real, index, *config.batch_shape(index * reuse),
                config.real_share)
            # numpy arrays travel by pickling: no shared-memory handles
            # that die with this process.
            item = (index, blurry.numpy(), sharp.numpy())
            while True:
                if os.getppid() != parent:
                    return  # the trainer is gone (killed): so are we
                try:
                    queue.put(item, timeout=5)
                    break
                except queues.Full:
                    continue
            index += 1
    except Exception as error:  # reported to the trainer, which raises
        queue.put((repr(error), None, None))


def synth_config(config: TrainConfig) -> SynthConfig:
    """The generator's configuration for a run: measured kernels only from
    the folds it trains on (all of them when none is held out)."""
    folds = ""
    if config.bank_share > 0 and config.fold >= 0:
        split = Folds(config.folds or FOLDS_FILE)
        split.check_fold(config.fold)
        folds = ",".join(str(k) for k in range(len(split))
                         if k != config.fold)
    return SynthConfig(max_radius=config.max_radius,
                       bank_share=config.bank_share,
                       kernel_bank=config.kernel_bank, bank_folds=folds,
                       noise_scale=config.noise_scale)


def real_pairs_dir(config: TrainConfig, data: str) -> str:
    """--real-pairs as given, or as a folder of the data directory
    (--real-pairs dpdd1024-dev) when no such folder exists as given."""
    if os.path.isdir(config.real_pairs):
        return config.real_pairs
    return os.path.join(data, config.real_pairs)


def real_source(config: TrainConfig, data: str) -> Optional[Dict]:
    """RealPairs' arguments for the run's real share (None without
    one): the real_pairs folder's pairs outside the held-out fold."""
    if config.real_share < 0 or config.real_share > 1:
        raise ValueError("--real-share must lie in [0, 1], not %g"
                         % config.real_share)
    if config.real_share > 0 and not config.real_pairs:
        raise ValueError("--real-share needs --real-pairs DIR")
    if not config.real_pairs or config.real_share == 0:
        return None
    pairs_dir = real_pairs_dir(config, data)
    if not os.path.isdir(pairs_dir):
        raise FileNotFoundError("no real pairs at %s (--real-pairs; "
                                "set FDIKP_DATA)" % pairs_dir)
    return dict(pairs_dir=pairs_dir, seed=config.seed,
                names=training_names(pairs_dir, config.fold,
                                     config.folds or None))


def bank_record(synth: DefocusSynth) -> Optional[Dict]:
    """Which measured kernels a run draws from (None without)."""
    if synth.bank is None:
        return None
    path = synth.config.kernel_bank or BANK_FILE
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return {"path": path, "sha256": digest,
            "folds": synth.config.bank_folds or "all",
            "kernels": len(synth.bank)}
