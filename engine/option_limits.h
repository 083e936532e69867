/* The engine's limits and defaults for the options a user sets: the one
 * definition that the engine's checks, the GEGL op's property ranges, the
 * GIMP plug-in's arguments and the batch command (through meson, at
 * configure time) all read. Plain C, so that the C plug-in and meson's
 * compiler.get_define() can read it too.
 *
 * Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later. */

#ifndef FDIKP_OPTION_LIMITS_H
#define FDIKP_OPTION_LIMITS_H

/* Scale-recurrent stages: coarse-to-fine passes of the network. A network
 * runs 1 to FDIKP_STAGES_MAX of them (a model's metadata says how many it
 * takes, max_stages, and which it was trained with, default_stages); the
 * option also takes FDIKP_STAGES_AUTOMATIC, the model's own default_stages,
 * which is its default, so a model that runs one stage (DeepRFTv2) and one
 * trained with three (FDIKP) both run as trained unless told otherwise. */
#define FDIKP_STAGES_AUTOMATIC 0
#define FDIKP_STAGES_MIN 0
#define FDIKP_STAGES_MAX 5
#define FDIKP_STAGES_DEFAULT FDIKP_STAGES_AUTOMATIC
/* What a network runs at least, and what a model file without metadata is
 * taken to be trained with. */
#define FDIKP_NETWORK_STAGES_MIN 1
#define FDIKP_TRAINED_STAGES 3

/* Pixels per tile side; 0 (the default) chooses the tile automatically. */
#define FDIKP_TILE_SIZE_MIN 0
#define FDIKP_TILE_SIZE_MAX 8192
#define FDIKP_TILE_SIZE_DEFAULT 0
/* The largest tile the automatic choice takes, whatever the memory. */
#define FDIKP_TILE_SIZE_AUTOMATIC_MAX 4096

/* Pixels shared by neighbouring tiles. */
#define FDIKP_TILE_OVERLAP_MIN 0
#define FDIKP_TILE_OVERLAP_MAX 1024
#define FDIKP_TILE_OVERLAP_DEFAULT 64

#endif /* FDIKP_OPTION_LIMITS_H */
