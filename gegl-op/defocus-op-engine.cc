/* The engine as both ops drive it (defocus-op-engine.h): options from the
 * properties, the input a region needs, and the run over GEGL buffers.
 *
 * This program is free software: you can redistribute it and/or modify it
 * under the terms of the GNU General Public License as published by the Free
 * Software Foundation, either version 3 of the License, or (at your option)
 * any later version.
 *
 * Copyright (C) 2026 The fdikp-deblur authors.
 */

#include "config.h"

#include <glib/gi18n-lib.h>

#include "defocus-deblur-plan.h"
#include "defocus-deblur.h"
#include "defocus-op-engine.h"
#include "engine/catalog.h"
#include "engine/streaming.h"

/* The GEnumValue an enum property's value stands for, or NULL. */
static const GEnumValue *
enum_value_of (GParamSpec *spec, gint value)
{
  return spec && G_IS_PARAM_SPEC_ENUM (spec)
             ? g_enum_get_value (G_PARAM_SPEC_ENUM (spec)->enum_class, value)
             : NULL;
}

bool
fdikp_op_options (GeglOperation  *operation,
                  fdikp::Output   output,
                  fdikp::Options *options,
                  std::string    *error)
{
  GObjectClass *klass     = G_OBJECT_GET_CLASS (operation);
  GParamSpec   *device    = g_object_class_find_property (klass, "device");
  GParamSpec   *precision = g_object_class_find_property (klass, "precision");
  gchar        *model     = NULL;
  gint          tile_size = 0, tile_overlap = 0, device_value = 0, stages = 0;
  gint          precision_value = 0;

  g_object_get (operation, "model", &model, "tile-size", &tile_size, "tile-overlap", &tile_overlap,
                "device", &device_value, "precision", &precision_value, NULL);
  /* The map op has no stages: its map has none. */
  if (g_object_class_find_property (klass, "stages"))
    g_object_get (operation, "stages", &stages, NULL);

  /* Each op registers its own device and precision enums
   * (contract-gen.py): the nicks are what they share with the engine. */
  const GEnumValue *nick           = enum_value_of (device, device_value);
  const GEnumValue *precision_nick = enum_value_of (precision, precision_value);

  options->output       = output;
  options->stages       = stages;
  options->tile_size    = tile_size;
  options->tile_overlap = tile_overlap;
  if (! nick || ! fdikp::parse_device (nick->value_nick, &options->device))
    options->device = fdikp::Device::Auto;
  if (! precision_nick
      || ! fdikp::parse_precision (precision_nick->value_nick, &options->precision))
    options->precision = fdikp::Precision::Auto;

  const bool found = fdikp::find_model (model ? model : "", &options->model_path, error);

  g_free (model);
  return found;
}

/* The engine lays its tile grid over the whole input, whatever part of the
 * output is asked for, and runs only the tiles that reach that part: a
 * region computed alone is bit-identical to the same region of a
 * whole-image run, and costs in proportion to its size (GIMP's on-canvas
 * preview, a crop after the op). It reads up to one tile beyond the region.
 * The tile comes from the kept plan (deblur_planned(), defocus-deblur-plan.h),
 * which the run starts from too. */
GeglRectangle
fdikp_op_required_for_output (GeglOperation       *operation,
                              fdikp::Output        output,
                              const GeglRectangle *roi)
{
  const GeglRectangle *in = gegl_operation_source_get_bounding_box (operation, "input");
  fdikp::Options       options;
  fdikp::Plan          plan;
  std::string          error;

  if (! in || gegl_rectangle_is_empty (in) || gegl_rectangle_is_infinite_plane (in))
    return *roi;
  if (! fdikp_op_options (operation, output, &options, &error)
      || ! deblur_planned (operation, options, &plan))
    return *in;

  const fdikp::Rect region = { roi->x - in->x, roi->y - in->y, roi->width, roi->height };
  const fdikp::Rect need   = fdikp::streaming::input_needed (in->width, in->height, plan.tile_size,
                                                             region);
  GeglRectangle     out    = { in->x + need.x, in->y + need.y, need.width, need.height };

  return out;
}

void
fdikp_op_set_error (GeglOperation *operation, const gchar *message)
{
  g_object_set_data_full (G_OBJECT (operation), FDIKP_DEBLUR_ERROR_KEY,
                          message ? g_strdup (message) : NULL, g_free);
}

fdikp::Status
fdikp_op_run (GeglOperation       *operation,
              GeglBuffer          *input,
              const GeglRectangle *result,
              fdikp::Output        output,
              const Babl          *input_format,
              const gchar         *progress_label,
              const gchar         *op_name,
              const FdikpOpWrite  &write)
{
  const Babl *rgb = babl_format_with_space ("R'G'B' float", babl_format_get_space (input_format));
  const GeglRectangle *bounds = gegl_operation_source_get_bounding_box (operation, "input");
  const gint          *cancel = (const gint *) g_object_get_data (G_OBJECT (operation),
                                                                  FDIKP_DEBLUR_CANCEL_KEY);
  fdikp::Options       options;
  std::string          model_error;
  fdikp::Plan          plan;
  fdikp::Pixels        pixels;
  fdikp::Callbacks     callbacks;
  fdikp::RunInfo       info;

  fdikp_op_set_error (operation, NULL);
  if (! bounds || gegl_rectangle_is_empty (bounds) || gegl_rectangle_is_infinite_plane (bounds))
    {
      fdikp_op_set_error (operation, _ ("The input has no finite extent"));
      return fdikp::Status::failure (_ ("The input has no finite extent"));
    }

  const bool model_found = fdikp_op_options (operation, output, &options, &model_error);
  /* The plan get_required_for_output() asked for: the input it asked for
   * covers what the planned tile reads, and the engine re-plans an
   * automatic tile for the CPU if CUDA fails mid-run. */
  const bool have_plan   = model_found && deblur_planned (operation, options, &plan);

  pixels.width  = bounds->width;
  pixels.height = bounds->height;
  pixels.region = { result->x - bounds->x, result->y - bounds->y, result->width, result->height };
  pixels.read   = [&] (const fdikp::Rect &r, float *out) {
    const GeglRectangle area = { bounds->x + r.x, bounds->y + r.y, r.width, r.height };

    gegl_buffer_get (input, &area, 1.0, rgb, out, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
  };
  pixels.write = [&] (const fdikp::Rect &r, const float *values) {
    write ({ bounds->x + r.x, bounds->y + r.y, r.width, r.height }, values);
  };
  callbacks.progress = [operation, progress_label] (double fraction) {
    gegl_operation_progress (operation, fraction, (gchar *) progress_label);
  };
  if (cancel)
    callbacks.cancelled = [cancel] { return g_atomic_int_get (cancel) != 0; };

  gegl_operation_progress (operation, 0.0, (gchar *) progress_label);
  fdikp::Status status = fdikp::Status::failure (model_error);

  if (have_plan)
    status = fdikp::run (options, plan, pixels, callbacks, &info);
  else if (model_found)
    status = fdikp::run (options, pixels, callbacks, &info);

  for (const std::string &warning : info.warnings)
    g_warning ("%s: %s", op_name, warning.c_str ());
  if (! status.ok () && ! status.cancelled ())
    fdikp_op_set_error (operation, status.message ().c_str ());
  gegl_operation_progress (operation, 1.0, (gchar *) "");
  return status;
}
