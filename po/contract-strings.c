/* User-visible strings of engine/contract.json, for xgettext. Generated
 * by engine/contract-gen.py (strings): do not edit. */
/* clang-format off */
N_("Model")
N_("Stages")
N_("Coarse-to-fine passes of the network; 0 runs the number the model was trained with, which works best; fewer are faster")
N_("Tile size")
N_("Side of the square tiles the image is processed in, in pixels; 0 chooses it automatically for the device and the available memory")
N_("Tile overlap")
N_("Pixels shared by neighbouring tiles, cross-faded so that no seam shows; -1 takes the overlap the model was measured to need")
N_("Device")
N_("Where the network runs: a CUDA GPU when available, otherwise the CPU")
N_("Automatic (GPU if available)")
N_("CPU")
N_("CUDA GPU")
N_("Precision")
N_("The network's arithmetic: bf16 runs convolutions and matrix products in bfloat16; automatic takes it only on a CPU with bfloat16 instructions and only when the model's file records that bf16 kept its output within the tolerance, float32 otherwise")
N_("Automatic (bfloat16 where the model was checked)")
N_("Float32")
N_("BFloat16")
/* clang-format on */
