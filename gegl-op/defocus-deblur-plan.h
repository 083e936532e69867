/* The op's plan (fdikp::plan) kept on the GeglOperation.
 *
 * Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later. */

#ifndef FDIKP_DEFOCUS_DEBLUR_PLAN_H
#define FDIKP_DEFOCUS_DEBLUR_PLAN_H

#include <gegl.h>

#include "engine/engine.h"

/* The plan the engine made for these options, asked for once and kept on
 * the operation: get_required_for_output() and process() read the same
 * plan, so the input asked for covers what the planned tile reads, and the
 * op holds no tile or memory policy of its own. A change of options (a new
 * model, tile, overlap, stages, device or output) plans again. Both ops of
 * the module keep theirs this way. */
bool deblur_planned (GeglOperation *operation, const fdikp::Options &options, fdikp::Plan *plan);

#endif /* FDIKP_DEFOCUS_DEBLUR_PLAN_H */
