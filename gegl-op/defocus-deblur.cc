/* fdikp:defocus-deblur, which sharpens photos whose subject missed focus
 * with the FDIKP network through the LibTorch engine: its properties, its
 * registration and its processing (the installed models its "model"
 * property lists are defocus-deblur-models.cc; the engine is driven as
 * defocus-op-engine.h drives it for both of the module's ops).
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
#define GEGL_OP_BUNDLE   /* registered with fdikp:defocus-map (defocus-op-module.cc) */
// clang-format on

/* Read by the property declarations above, inside gegl-op.h. */
static const gchar *model_description (void);
static const gchar *model_listing (void);

#include "gegl-op.h"

#include <string>
#include <vector>

#include "defocus-deblur-models.h"
#include "defocus-op-engine.h"

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

static GeglRectangle
get_required_for_output (GeglOperation *operation, const gchar *input_pad, const GeglRectangle *roi)
{
  return fdikp_op_required_for_output (operation, fdikp::Output::Deblurred, roi);
}

static gboolean
process (GeglOperation       *operation,
         GeglBuffer          *input,
         GeglBuffer          *output,
         const GeglRectangle *result,
         gint                 level)
{
  const Babl        *rgba = gegl_operation_get_format (operation, "output");
  std::vector<float> rows;

  /* Alpha passes through: take it from the input, replace the colour. */
  const auto         write = [&] (const GeglRectangle &area, const float *rgb) {
    const size_t n = (size_t) area.width * area.height;

    rows.resize (n * 4);
    gegl_buffer_get (input, &area, 1.0, rgba, rows.data (), GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
    for (size_t i = 0; i < n; i++)
      {
        rows[4 * i + 0] = rgb[3 * i + 0];
        rows[4 * i + 1] = rgb[3 * i + 1];
        rows[4 * i + 2] = rgb[3 * i + 2];
      }
    gegl_buffer_set (output, &area, 0, rgba, rows.data (), GEGL_AUTO_ROWSTRIDE);
  };
  const fdikp::Status status = fdikp_op_run (operation, input, result, fdikp::Output::Deblurred,
                                             rgba, _ ("Deblurring"), FDIKP_DEBLUR_OPERATION, write);

  if (! status.ok ())
    {
      /* Whatever was written is discarded: on failure the output is the input. */
      gegl_buffer_copy (input, result, GEGL_ABYSS_NONE, output, result);
      if (! status.cancelled ())
        g_warning ("fdikp:defocus-deblur: %s; the image is left unchanged",
                   status.message ().c_str ());
    }
  return TRUE;
}

static void
gegl_op_class_init (GeglOpClass *klass)
{
  GeglOperationClass       *operation_class = GEGL_OPERATION_CLASS (klass);
  GeglOperationFilterClass *filter_class    = GEGL_OPERATION_FILTER_CLASS (klass);

  operation_class->prepare                 = prepare;
  operation_class->get_required_for_output = get_required_for_output;
  operation_class->threaded                = FALSE;
  operation_class->opencl_support          = FALSE;
  filter_class->process                    = process;

  /* No "gimp:menu-path": in GIMP the plug-in's "Defocus Deblur..." is the one
   * entry. GIMP's on-canvas preview of this op was several times slower to
   * a first preview than the plug-in's dialog (measured: README, "In GIMP"),
   * and GEGL gives an op no way to report its errors to GIMP. */
  gegl_operation_class_set_keys (
      operation_class, "name", FDIKP_DEBLUR_OPERATION, "title", _ ("Defocus Deblur"), "categories",
      "enhance", "description",
      _ ("Sharpens a photo whose subject missed focus with the FDIKP neural network "
         "(frequency-driven inverse kernel prediction), run by LibTorch on a CUDA GPU "
         "or the CPU"),
      NULL);
}

#endif
