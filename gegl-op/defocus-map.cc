/* fdikp:defocus-map: where a photo is out of focus and by how much, from
 * the defocus map a model file carries beside its deblurring network
 * (docs/model/defocus-map.md): one float per pixel ("Y float"), the radius
 * of the blur disc there in pixels. Its properties are the deblur op's but
 * "stages" (engine/contract.json), and the engine is driven as
 * defocus-op-engine.h drives it for both ops: the same tiles, devices,
 * recoveries, progress, cancellation and error key (defocus-deblur.h).
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

/* The contract's options that the map has (engine/contract-gen.py
 * map-op-properties), with their own enum types. */
#include "defocus-map-properties.h"

#else

#define GEGL_OP_FILTER
#define GEGL_OP_NAME     defocus_map
#define GEGL_OP_C_SOURCE defocus-map.cc
#define GEGL_OP_BUNDLE   /* registered with fdikp:defocus-deblur (defocus-op-module.cc) */
// clang-format on

static const gchar *model_description (void);
static const gchar *model_listing (void);

#include "gegl-op.h"

#include "defocus-deblur-models.h"
#include "defocus-op-engine.h"

/* The "model" property lists the installed models as the deblur op's does;
 * those without a map are refused when the map is computed. */
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
  /* The network sees the photo as the deblur op gives it (R'G'B' in the
   * image's space); its map is a measure in pixels, not a colour. */
  const Babl *space = gegl_operation_get_source_space (operation, "input");

  gegl_operation_set_format (operation, "input", babl_format_with_space ("R'G'B'A float", space));
  gegl_operation_set_format (operation, "output", babl_format ("Y float"));
}

static GeglRectangle
get_required_for_output (GeglOperation *operation, const gchar *input_pad, const GeglRectangle *roi)
{
  return fdikp_op_required_for_output (operation, fdikp::Output::DefocusMap, roi);
}

static gboolean
process (GeglOperation       *operation,
         GeglBuffer          *input,
         GeglBuffer          *output,
         const GeglRectangle *result,
         gint                 level)
{
  const Babl *map_format = gegl_operation_get_format (operation, "output");
  const auto  write      = [&] (const GeglRectangle &area, const float *radii) {
    gegl_buffer_set (output, &area, 0, map_format, radii, GEGL_AUTO_ROWSTRIDE);
  };
  const fdikp::Status status = fdikp_op_run (operation, input, result, fdikp::Output::DefocusMap,
                                             gegl_operation_get_format (operation, "input"),
                                             _ ("Estimating the defocus map"),
                                             FDIKP_DEFOCUS_MAP_OPERATION, write);

  if (! status.ok ())
    {
      /* No map: 0 everywhere, never a part of one. */
      gegl_buffer_clear (output, result);
      if (! status.cancelled ())
        g_warning ("fdikp:defocus-map: %s; the map is left empty", status.message ().c_str ());
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

  gegl_operation_class_set_keys (
      operation_class, "name", FDIKP_DEFOCUS_MAP_OPERATION, "title", _ ("Defocus Map"),
      "categories", "analysis", "description",
      _ ("Estimates where a photo is out of focus and by how much: at each pixel the radius of "
         "the blur disc in pixels, from the defocus map a model file carries"),
      NULL);
}

#endif
