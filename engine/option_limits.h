/* The engine's limits and defaults for the options a user sets: the one
 * definition that the engine's checks, the GEGL op's property ranges, the
 * GIMP plug-in's arguments and the batch command (through meson, at
 * configure time) all read. Plain C, so that the C plug-in and meson's
 * compiler.get_define() can read it too.
 *
 * Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later. */

#ifndef FDIKP_OPTION_LIMITS_H
#define FDIKP_OPTION_LIMITS_H

/* Scale-recurrent stages: coarse-to-fine passes of the network. */
#define FDIKP_STAGES_MIN 1
#define FDIKP_STAGES_MAX 5
#define FDIKP_STAGES_DEFAULT 3

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
