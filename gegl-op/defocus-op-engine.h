/* What the module's two ops, fdikp:defocus-deblur and fdikp:defocus-map,
 * share in driving the engine: their options read from their properties,
 * the input a region needs, and a run over a GEGL buffer with progress,
 * cancellation and the error key (defocus-deblur.h). Each op keeps its own
 * formats, its output and what a failure leaves.
 *
 * Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later. */

#ifndef FDIKP_DEFOCUS_OP_ENGINE_H
#define FDIKP_DEFOCUS_OP_ENGINE_H

#include <gegl-plugin.h>
#include <gegl.h>

#include <functional>
#include <string>

#include "engine/engine.h"

/* The engine's options from the operation's properties, read by name
 * ("model", "stages" where the op has it, "tile-size", "tile-overlap",
 * "device" by its nick), for `output`; false with *error when "model"
 * names no installed model and no file (engine/catalog.h, find_model). */
bool          fdikp_op_options (GeglOperation  *operation,
                                fdikp::Output   output,
                                fdikp::Options *options,
                                std::string    *error);

/* get_required_for_output: the input the planned tile reads for `roi`
 * (streaming::input_needed), or the whole input when the model does not
 * load (the run then reports it). */
GeglRectangle fdikp_op_required_for_output (GeglOperation       *operation,
                                            fdikp::Output        output,
                                            const GeglRectangle *roi);

/* Takes a finished band of the run's output: the rectangle in buffer
 * coordinates, 3 or 1 floats per pixel. */
typedef std::function<void (const GeglRectangle &, const float *)> FdikpOpWrite;

/* The failure message a host reads under FDIKP_DEBLUR_ERROR_KEY, or NULL. */
void          fdikp_op_set_error (GeglOperation *operation, const gchar *message);

/* Runs the engine for `output` over `result` of `input` (R'G'B' float read
 * in the space of `input_format`), handing each finished band to `write`, with
 * progress under `progress_label` and the host's cancel flag. Sets or clears
 * the error key; warns as `op_name` about the engine's warnings. */
fdikp::Status fdikp_op_run (GeglOperation       *operation,
                            GeglBuffer          *input,
                            const GeglRectangle *result,
                            fdikp::Output        output,
                            const Babl          *input_format,
                            const gchar         *progress_label,
                            const gchar         *op_name,
                            const FdikpOpWrite  &write);

#endif /* FDIKP_DEFOCUS_OP_ENGINE_H */
