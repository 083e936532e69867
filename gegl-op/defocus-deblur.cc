/* fdikp:defocus-deblur, which sharpens photos whose subject missed focus
 * with the FDIKP network through the LibTorch engine: its properties, its
 * registration and its processing (the installed models its "model"
 * property lists are defocus-deblur-models.cc).
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

#include "defocus-deblur.h"
#include "engine/option_limits.h"

#ifdef GEGL_PROPERTIES
// clang-format off
// (GEGL's property and op macros, laid out as GEGL lays them out)

/* One property per option of engine/contract.json, generated at build
 * time (engine/contract-gen.py op-properties): names, labels,
 * descriptions, ranges and defaults come from the contract alone. The
 * model's description and the installed-models key (defocus-deblur.h)
 * are model_description () and model_listing () below. */
#include "defocus-deblur-properties.h"

#else

#define GEGL_OP_FILTER
#define GEGL_OP_NAME     defocus_deblur
#define GEGL_OP_C_SOURCE defocus-deblur.cc
// clang-format on

/* Read by the property declarations above, inside gegl-op.h. */
static const gchar *model_description (void);
static const gchar *model_listing (void);

#include "gegl-op.h"

#include <string>
#include <vector>

#include "defocus-deblur-models.h"
#include "defocus-deblur-plan.h"
#include "engine/catalog.h"
#include "engine/engine.h"
#include "engine/streaming.h"

/* Property descriptions are translated when the class is registered, so the
 * catalog must be bound before GEGL registers the op. */
static const bool   textdomain_bound = [] {
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  return true;
}();

static void
set_error (GeglOperation *operation, const gchar *message)
{
  g_object_set_data_full (G_OBJECT (operation), FDIKP_DEBLUR_ERROR_KEY,
                          message ? g_strdup (message) : NULL, g_free);
}

/* The "model" property's description and listing key
 * (defocus-deblur-models.cc). */
static const gchar *
model_listing (void)
{
  return fdikp_deblur_model_listing ();
}

static const gchar *
model_description (void)
{
  return fdikp_deblur_model_description ();
}

static fdikp::Device
engine_device (FdikpDeblurDevice device)
{
  switch (device)
    {
    case FDIKP_DEBLUR_DEVICE_CPU:
      return fdikp::Device::Cpu;
    case FDIKP_DEBLUR_DEVICE_CUDA:
      return fdikp::Device::Cuda;
    default:
      return fdikp::Device::Auto;
    }
}

static fdikp::Precision
engine_precision (FdikpDeblurPrecision precision)
{
  switch (precision)
    {
    case FDIKP_DEBLUR_PRECISION_FP32:
      return fdikp::Precision::Fp32;
    case FDIKP_DEBLUR_PRECISION_BF16:
      return fdikp::Precision::Bf16;
    default:
      return fdikp::Precision::Auto;
    }
}

static void
prepare (GeglOperation *operation)
{
  /* Perceptually encoded float, as the model was trained on (sRGB), in the
   * image's own RGB space: a pass through an identity model changes nothing,
   * and an sRGB photo reaches the model exactly as trained. */
  const Babl *space  = gegl_operation_get_source_space (operation, "input");
  const Babl *format = babl_format_with_space ("R'G'B'A float", space);

  gegl_operation_set_format (operation, "input", format);
  gegl_operation_set_format (operation, "output", format);
}

/* The engine's options from the properties; false with *error when the
 * model property names no installed model and no file (the model is found
 * as every host finds it: engine/catalog.h, find_model). */
static bool
engine_options (GeglProperties *o, fdikp::Options *options, std::string *error)
{
  options->stages       = o->stages;
  options->tile_size    = o->tile_size;
  options->tile_overlap = o->tile_overlap;
  options->device       = engine_device (o->device);
  options->precision    = engine_precision (o->precision);
  return fdikp::find_model (o->model ? o->model : "", &options->model_path, error);
}

/* The engine lays its tile grid over the whole input, whatever part of the
 * output is asked for, and runs only the tiles that reach that part: a
 * region computed alone is bit-identical to the same region of a
 * whole-image run, and costs in proportion to its size (GIMP's on-canvas
 * preview, a crop after the op). It reads up to one tile beyond the region.
 * The tile comes from the kept plan (deblur_planned(), defocus-deblur-plan.h), which process() runs
 * from too; a model that fails to load asks for the whole input (process()
 * then reports the error). */
static GeglRectangle
get_required_for_output (GeglOperation *operation, const gchar *input_pad, const GeglRectangle *roi)
{
  const GeglRectangle *in = gegl_operation_source_get_bounding_box (operation, "input");
  fdikp::Options       options;
  fdikp::Plan          plan;
  std::string          error;

  if (! in || gegl_rectangle_is_empty (in) || gegl_rectangle_is_infinite_plane (in))
    return *roi;
  if (! engine_options (GEGL_PROPERTIES (operation), &options, &error)
      || ! deblur_planned (operation, options, &plan))
    return *in;

  const fdikp::Rect region = { roi->x - in->x, roi->y - in->y, roi->width, roi->height };
  const fdikp::Rect need   = fdikp::streaming::input_needed (in->width, in->height, plan.tile_size,
                                                             region);
  GeglRectangle     out    = { in->x + need.x, in->y + need.y, need.width, need.height };

  return out;
}

static gboolean
process (GeglOperation       *operation,
         GeglBuffer          *input,
         GeglBuffer          *output,
         const GeglRectangle *result,
         gint                 level)
{
  GeglProperties      *o    = GEGL_PROPERTIES (operation);
  const Babl          *rgba = gegl_operation_get_format (operation, "output");
  const Babl          *rgb  = babl_format_with_space ("R'G'B' float", babl_format_get_space (rgba));
  const GeglRectangle *bounds = gegl_operation_source_get_bounding_box (operation, "input");
  const gint          *cancel = (const gint *) g_object_get_data (G_OBJECT (operation),
                                                                  FDIKP_DEBLUR_CANCEL_KEY);
  fdikp::Options       options;
  std::string          model_error;
  const bool           model_found = engine_options (o, &options, &model_error);
  fdikp::Plan          plan;
  fdikp::Pixels        pixels;
  fdikp::Callbacks     callbacks;
  fdikp::RunInfo       info;
  std::vector<float>   rows;

  set_error (operation, NULL);

  if (! bounds || gegl_rectangle_is_empty (bounds) || gegl_rectangle_is_infinite_plane (bounds))
    {
      set_error (operation, _ ("The input has no finite extent"));
      g_warning ("fdikp:defocus-deblur: the input has no finite extent; left unchanged");
      gegl_buffer_copy (input, result, GEGL_ABYSS_NONE, output, result);
      return TRUE;
    }

  /* The plan get_required_for_output() asked for: the input it asked for
   * covers what the planned tile reads, and the engine re-plans an
   * automatic tile for the CPU if CUDA fails mid-run. */
  const bool have_plan = model_found && deblur_planned (operation, options, &plan);

  pixels.width  = bounds->width;
  pixels.height = bounds->height;
  pixels.region = { result->x - bounds->x, result->y - bounds->y, result->width, result->height };
  pixels.read   = [&] (const fdikp::Rect &r, float *out) {
    const GeglRectangle area = { bounds->x + r.x, bounds->y + r.y, r.width, r.height };

    gegl_buffer_get (input, &area, 1.0, rgb, out, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
  };
  pixels.write = [&] (const fdikp::Rect &r, const float *in) {
    const GeglRectangle area = { bounds->x + r.x, bounds->y + r.y, r.width, r.height };
    const size_t        n    = (size_t) r.width * r.height;

    /* Alpha passes through: take it from the input, replace the colour. */
    rows.resize (n * 4);
    gegl_buffer_get (input, &area, 1.0, rgba, rows.data (), GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
    for (size_t i = 0; i < n; i++)
      {
        rows[4 * i + 0] = in[3 * i + 0];
        rows[4 * i + 1] = in[3 * i + 1];
        rows[4 * i + 2] = in[3 * i + 2];
      }
    gegl_buffer_set (output, &area, 0, rgba, rows.data (), GEGL_AUTO_ROWSTRIDE);
  };

  callbacks.progress = [operation] (double fraction) {
    gegl_operation_progress (operation, fraction, (gchar *) _ ("Deblurring"));
  };
  if (cancel)
    callbacks.cancelled = [cancel] { return g_atomic_int_get (cancel) != 0; };

  gegl_operation_progress (operation, 0.0, (gchar *) _ ("Deblurring"));
  fdikp::Status status = fdikp::Status::failure (model_error);

  if (have_plan)
    status = fdikp::run (options, plan, pixels, callbacks, &info);
  else if (model_found)
    status = fdikp::run (options, pixels, callbacks, &info);

  for (const std::string &warning : info.warnings)
    g_warning ("fdikp:defocus-deblur: %s", warning.c_str ());

  if (! status.ok ())
    {
      /* Whatever was written is discarded: on failure the output is the input. */
      gegl_buffer_copy (input, result, GEGL_ABYSS_NONE, output, result);
      if (! status.cancelled ())
        {
          set_error (operation, status.message ().c_str ());
          g_warning ("fdikp:defocus-deblur: %s; the image is left unchanged",
                     status.message ().c_str ());
        }
    }
  gegl_operation_progress (operation, 1.0, (gchar *) "");
  return TRUE;
}

static void
gegl_op_class_init (GeglOpClass *klass)
{
  GeglOperationClass       *operation_class = GEGL_OPERATION_CLASS (klass);
  GeglOperationFilterClass *filter_class    = GEGL_OPERATION_FILTER_CLASS (klass);

  (void) textdomain_bound;

  operation_class->prepare                 = prepare;
  operation_class->get_required_for_output = get_required_for_output;
  operation_class->threaded                = FALSE;
  operation_class->opencl_support          = FALSE;
  filter_class->process                    = process;

  gegl_operation_class_set_keys (
      operation_class, "name", FDIKP_DEBLUR_OPERATION, "title", _ ("Defocus Deblur"), "categories",
      "enhance", "gimp:menu-path", "<Image>/Filters/Enhance", "gimp:menu-label",
      _ ("Defocus Deblur (Live Preview)..."), "description",
      _ ("Sharpens a photo whose subject missed focus with the FDIKP neural network "
         "(frequency-driven inverse kernel prediction), run by LibTorch on a CUDA GPU "
         "or the CPU"),
      NULL);
}

#endif
