# shellcheck shell=bash
# The training recipes, in one place: sourced (not run) by the scripts that
# train, so that a recipe is written once. From the model folder:
#
#   source recipes.sh
#   cv_recipe ft-c384 runs/fdikp-s-psnr-step6011.pt   # sets recipe=(...)
#   chunk_recipe fdikp-s-psnr                         # sets recipe=(...)
#
# cv_recipe NAME SHIPPED: a cross-validation recipe (model/crossval.sh,
# tests/bench/train-allocator.sh), fine-tuning the training state SHIPPED;
# cv_common's options included. chunk_recipe RUN: the recipe a long
# CPU run starts with (model/train-chunk.sh). Both fill the array `recipe`
# with fdikp.train options; cv_recipe returns 2 for a name it does not
# know (cv_recipes lists them), chunk_recipe starts any other name as a
# network of that name. Options given after a recipe
# win over it (argparse keeps the last).

# Every cross-validation recipe: no second phase, bf16, validation on 32
# synthetic crops and on 8 real crops (of the held-out fold), the dev pairs
# as the real source, compact states.
cv_common=(--phase2-steps 0 --milestones "" --amp bf16
           --val-count 32 --val-crop 256 --real-count 8 --real-crop 512
           --real-pairs dpdd1024-dev --compact-state yes)
# shellcheck disable=SC2034  # read by the scripts that source this file
cv_recipes="ft-mix50 ft-cal ft-s3 ft-c384 ft-c384x2 ft-c512 ft-c384s4 ft-c384lr3 ft-c384lr05x2"

cv_recipe() {  # $1: recipe name, $2: the training state to start from
  local name=$1 shipped=$2 network=fdikp-s rest
  case $name in
    # Half of each batch real crops, half synthetic: the mix that should
    # keep what transfers to other cameras while learning DPDD's lens blur.
    ft-mix50) rest=(--batch 4 --crop 256 --real-share 0.5 --steps 250) ;;
    # ft-mix50 with the simulator calibrated on the dev pairs' blur: half
    # of the synthetic samples take a kernel measured on the training
    # folds' pairs (model/fdikp/kernel-banks/dpdd-dev.npz, fdikp.kernels),
    # and the synthetic noise is cut to the dev pairs' level (0.35 of the
    # default deviation).
    ft-cal) rest=(--batch 4 --crop 256 --real-share 0.5
                  --bank-share 0.5 --noise-scale 0.35 --steps 250) ;;
    # Capacity: ft-mix50 on fdikp-s grown to three strip-attention pairs
    # (fdikp-s3, the paper's count; fdikp.grow: the two added pairs start
    # as the identity, so step 0 is the shipped file exactly).
    ft-s3) network=fdikp-s3
           rest=(--batch 4 --crop 256 --real-share 0.5 --steps 250) ;;
    # Context: two 384^2 crops per step (one real, one synthetic) instead
    # of four 256^2 (1.1x the pixels): the most blurred third of the dev
    # pairs gains almost nothing, and a 256-px crop holds few of their
    # blur discs. The recipe of the fifth shipped file.
    ft-c384) rest=(--batch 2 --crop 384 --real-share 0.5 --steps 250) ;;
    # Length: ft-c384 run twice as long (the same seed and a constant rate
    # after warm-up, so its first 250 steps are ft-c384's): on the
    # held-out crops ft-c384's gain was still rising at step 250.
    ft-c384x2) rest=(--batch 2 --crop 384 --real-share 0.5 --steps 500) ;;
    # More context still: ft-c384 on 512^2 crops (1.8x its pixels a
    # step), for the most blurred pairs, whose blur discs a 384-px crop
    # still holds few of.
    ft-c512) rest=(--batch 2 --crop 512 --real-share 0.5 --steps 250) ;;
    # Scale: ft-c384 with four stages instead of three (the same weights
    # at every stage, so the fourth adds a pass at 1/8 of the size, about
    # 2 % of the arithmetic): the coarsest stage then sees a blur disc an
    # eighth its size, for the most blurred third, which 512^2 crops did
    # not help (fold 0: +0.133 dB against ft-c384's +0.155). Run at four
    # stages untrained, the shipped weights lost 0.04-0.05 dB.
    # model/crossval.sh exports it with four stages as its default.
    ft-c384s4) rest=(--batch 2 --crop 384 --real-share 0.5 --steps 250
                     --stages 4) ;;
    # Step size: ft-c384 at three times the rate (3e-4 after the same
    # warm-up). Twice the steps at 1e-4 (ft-c384x2) moved the five-fold
    # gain by +0.006 dB; a larger step asks whether the fine-tune is held
    # back by how far 250 steps at 1e-4 can move the weights.
    ft-c384lr3) rest=(--batch 2 --crop 384 --real-share 0.5 --steps 250
                      --lr 3e-4) ;;
    # The other way: half the rate (5e-5) for twice the steps, the same
    # distance as ft-c384 in smaller steps (ft-c384lr3 lost to ft-c384 on
    # folds 0 and 1, +0.230 against +0.271, below its own start).
    ft-c384lr05x2) rest=(--batch 2 --crop 384 --real-share 0.5 --steps 500
                         --lr 5e-5) ;;
    *) return 2 ;;
  esac
  # All of them: from the shipped weights (EMA), at twice the shipped run's
  # last rate (short runs), the per-image gain loss, the input's tone kept.
  recipe=("${cv_common[@]}" --network "$network" --loss psnr --seed 11
          --init-from "$shipped" --init-weights ema
          --lr 1e-4 --warmup 20 --ema-decay 0.99 --tone-sigma 32 "${rest[@]}")
}

chunk_recipe() {  # $1: the run's name (a network's name starts that network)
  # Used when the run starts; a resumed run keeps its own, except the chunk
  # options (train.CHUNK_OPTIONS), which are given again each time.
  recipe=(--steps 1000000 --phase2-steps 0 --milestones ""
          --batch 8 --crop 128 --lr 2e-4 --warmup 200 --amp bf16 --ema-decay 0.995
          --val-count 32 --val-crop 256 --real-count 12 --real-crop 384)
  case $1 in
    # The first run: the pooled loss (MSE + 0.2 FFT-L1 over the batch).
    fdikp-s) recipe+=(--network fdikp-s --loss mse) ;;
    # Per-image dB gain over the input, from fdikp-s's weights at step 2023
    # on new batches (seed 1; the pooled loss had taught it to sharpen heavy
    # blur at the cost of nearly sharp images: docs/training/history.md,
    # "Where the fdikp-s curve stands"). (fdikp-s's state is no longer in
    # the tree, to leave room in what travels to the GPU machine; to start
    # this run afresh, first
    # git show dd0fe68:model/checkpoints/fdikp-s/last.pt > checkpoints/fdikp-s/last.pt)
    # Its rate went down to 1e-4 at step 1631 (chunk 2); the recipe's --lr
    # is a chunk option, given at every resume, so it is kept here. From
    # step 4721 on: crops of 256 as on the GPU (4 x 256^2, the pixels of
    # 8 x 128^2) and the input's tone kept (--tone-sigma 32;
    # docs/training/training-details.md, "Keeping the input's tone"), also
    # chunk options; from step 5660 on, rate 5e-5 (the EMA had stalled at
    # 1e-4).
    fdikp-s-psnr) recipe+=(--network fdikp-s --loss psnr --seed 1
                           --init-from checkpoints/fdikp-s/last.pt --lr 5e-5
                           --batch 4 --crop 256 --tone-sigma 32) ;;
    # The equal-budget comparison of the two architectures (model/README.md,
    # DeepRFTv2): both from their identity start, the same loss and seed.
    cmp-fdikp-s) recipe+=(--network fdikp-s --loss psnr) ;;
    cmp-deeprftv2-s) recipe+=(--network deeprftv2-s --stages 1 --loss psnr) ;;
    *) recipe+=(--network "$1") ;;
  esac
}
