/* The graph of the deblur procedure and its preview: see deblur-graph.h.
 *
 * The blend is a point op of the plug-in's own, registered in the plug-in's
 * process only (GEGL 0.4.62 has no per-pixel mix by a third input): input
 * the drawable, aux the deblurred image, aux2 the defocus map (radii in
 * px). Output = (1 - w) input + w deblurred, alpha the input's, with
 * w = deblur_focus_weight (radius): exactly the input where w is 0 and
 * exactly the deblurred image where w is 1.
 *
 * This program is free software: you can redistribute it and/or modify it
 * under the terms of the GNU General Public License as published by the Free
 * Software Foundation, either version 3 of the License, or (at your option)
 * any later version.
 *
 * Copyright (C) 2026 The fdikp-deblur authors.
 */

#include "config.h"

#include <gegl-plugin.h>
#include <libgimp/gimp.h>
#include <operation/gegl-operation-point-composer3.h>

#include <glib/gi18n-lib.h>

#include "deblur-graph.h"
#include "gegl-op/defocus-deblur.h"
#include "operation.h"

#define FOCUS_BLEND_OPERATION "fdikp-plugin:focus-blend"

typedef struct
{
  GeglOperationPointComposer3 parent_instance;
  gdouble                     threshold;
  gdouble                     feather;
} FocusBlend;

typedef struct
{
  GeglOperationPointComposer3Class parent_class;
} FocusBlendClass;

enum
{
  PROP_0,
  PROP_THRESHOLD,
  PROP_FEATHER
};

GType focus_blend_get_type (void);

G_DEFINE_TYPE (FocusBlend, focus_blend, GEGL_TYPE_OPERATION_POINT_COMPOSER3)

gdouble
deblur_focus_weight (gdouble radius, gdouble threshold, gdouble feather)
{
  gdouble low  = threshold - feather / 2.0;
  gdouble high = threshold + feather / 2.0;
  gdouble s;

  if (radius >= high)
    return 1.0;
  if (! (radius > low)) /* also a NaN radius */
    return 0.0;
  s = (radius - low) / (high - low);
  return s * s * (3.0 - 2.0 * s);
}

static void
focus_blend_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  FocusBlend *self = (FocusBlend *) object;

  switch (id)
    {
    case PROP_THRESHOLD:
      self->threshold = g_value_get_double (value);
      break;
    case PROP_FEATHER:
      self->feather = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
focus_blend_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  FocusBlend *self = (FocusBlend *) object;

  switch (id)
    {
    case PROP_THRESHOLD:
      g_value_set_double (value, self->threshold);
      break;
    case PROP_FEATHER:
      g_value_set_double (value, self->feather);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
focus_blend_prepare (GeglOperation *operation)
{
  /* The deblur op's own format (gegl-op/defocus-deblur.cc): its output
   * reaches aux unconverted. */
  const Babl *space = gegl_operation_get_source_space (operation, "input");
  const Babl *rgba  = babl_format_with_space ("R'G'B'A float", space);

  gegl_operation_set_format (operation, "input", rgba);
  gegl_operation_set_format (operation, "aux", rgba);
  gegl_operation_set_format (operation, "aux2", babl_format ("Y float"));
  gegl_operation_set_format (operation, "output", rgba);
}

static gboolean
focus_blend_process (GeglOperation       *operation,
                     void                *in_buf,
                     void                *aux_buf,
                     void                *aux2_buf,
                     void                *out_buf,
                     glong                samples,
                     const GeglRectangle *roi,
                     gint                 level)
{
  FocusBlend   *self      = (FocusBlend *) operation;
  const gfloat *in        = in_buf;
  const gfloat *deblurred = aux_buf;
  const gfloat *radius    = aux2_buf;
  gfloat       *out       = out_buf;

  for (glong i = 0; i < samples; i++)
    {
      gdouble w = (deblurred && radius)
                      ? deblur_focus_weight (radius[i], self->threshold, self->feather)
                      : 0.0;

      for (gint c = 0; c < 3; c++)
        out[c] = (gfloat) ((1.0 - w) * in[c] + (w > 0.0 ? w * deblurred[c] : 0.0));
      out[3] = in[3];
      in += 4;
      out += 4;
      if (deblurred)
        deblurred += 4;
    }
  return TRUE;
}

static void
focus_blend_class_init (FocusBlendClass *klass)
{
  GObjectClass                     *object_class    = G_OBJECT_CLASS (klass);
  GeglOperationClass               *operation_class = GEGL_OPERATION_CLASS (klass);
  GeglOperationPointComposer3Class *point_class     = GEGL_OPERATION_POINT_COMPOSER3_CLASS (klass);

  object_class->set_property = focus_blend_set_property;
  object_class->get_property = focus_blend_get_property;
  operation_class->prepare   = focus_blend_prepare;
  point_class->process       = focus_blend_process;

  g_object_class_install_property (object_class, PROP_THRESHOLD,
                                   g_param_spec_double ("threshold", "Threshold",
                                                        "Map radius (px) of the middle of the step",
                                                        0.0, 32.0, 1.5,
                                                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT));
  g_object_class_install_property (object_class, PROP_FEATHER,
                                   g_param_spec_double ("feather", "Feather",
                                                        "Width (px of radius) of the step", 0.0,
                                                        32.0, 1.0,
                                                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT));

  gegl_operation_class_set_keys (operation_class, "name", FOCUS_BLEND_OPERATION, "title",
                                 "Focus blend", "categories", "hidden", "description",
                                 "The deblur plug-in's blend of its input and the deblurred "
                                 "image by the defocus map",
                                 NULL);
}

static void
focus_blend_init (FocusBlend *self)
{
}

void
deblur_graph_add_arguments (GimpProcedure *procedure)
{
  gimp_procedure_add_boolean_argument (
      procedure, DEBLUR_ONLY_OUT_OF_FOCUS, _ ("Only where out of _focus"),
      _ ("Deblur only where the model's defocus map finds the photo out of focus, "
         "blending by the map's blur radius (the model must have a defocus map)"),
      FALSE, G_PARAM_READWRITE);
  gimp_procedure_add_double_argument (
      procedure, DEBLUR_FOCUS_THRESHOLD, _ ("Focus _threshold"),
      _ ("The blur radius (px) from which a pixel counts as out of focus, with "
         "\"Only where out of focus\""),
      0.0, 32.0, 1.5, G_PARAM_READWRITE);
  gimp_procedure_add_double_argument (
      procedure, DEBLUR_FOCUS_FEATHER, _ ("Focus f_eather"),
      _ ("The width (px of blur radius) of the smooth transition around the threshold; "
         "0 is a hard step"),
      0.0, 32.0, 1.0, G_PARAM_READWRITE);
}

GeglNode *
deblur_graph_add_map (GeglNode *graph, GeglNode *input, GimpProcedureConfig *config)
{
  GeglNode *map = gegl_node_new_child (graph, "operation", FDIKP_DEFOCUS_MAP_OPERATION, NULL);

  fdikp_operation_set_properties (map, config, FDIKP_DEFOCUS_MAP_OPERATION);
  gegl_node_link (input, map);
  return map;
}

void
deblur_graph_build (DeblurGraph         *nodes,
                    GeglNode            *graph,
                    GeglNode            *input,
                    GimpProcedureConfig *config,
                    GeglBuffer          *map)
{
  gboolean  only_out_of_focus = FALSE;
  gdouble   threshold         = 1.5;
  gdouble   feather           = 1.0;
  GeglNode *blend;
  GeglNode *radii;

  nodes->deblur = gegl_node_new_child (graph, "operation", FDIKP_DEBLUR_OPERATION, NULL);
  fdikp_operation_set_properties (nodes->deblur, config, FDIKP_DEBLUR_OPERATION);
  gegl_node_link (input, nodes->deblur);
  nodes->output = nodes->deblur;
  nodes->map    = NULL;

  g_object_get (config, DEBLUR_ONLY_OUT_OF_FOCUS, &only_out_of_focus, DEBLUR_FOCUS_THRESHOLD,
                &threshold, DEBLUR_FOCUS_FEATHER, &feather, NULL);
  if (! only_out_of_focus)
    return;

  /* Registers the blend's name with GEGL (in its class_init). */
  g_type_class_unref (g_type_class_ref (focus_blend_get_type ()));

  if (map)
    radii = gegl_node_new_child (graph, "operation", "gegl:buffer-source", "buffer", map, NULL);
  else
    radii = nodes->map = deblur_graph_add_map (graph, input, config);

  blend = gegl_node_new_child (graph, "operation", FOCUS_BLEND_OPERATION, "threshold", threshold,
                               "feather", feather, NULL);
  gegl_node_connect (blend, "input", input, "output");
  gegl_node_connect (blend, "aux", nodes->deblur, "output");
  gegl_node_connect (blend, "aux2", radii, "output");
  nodes->output = blend;
}

static const gchar *
failure_of (GeglNode *node)
{
  if (! node)
    return NULL;
  return g_object_get_data (G_OBJECT (gegl_node_get_gegl_operation (node)), FDIKP_DEBLUR_ERROR_KEY);
}

const gchar *
deblur_graph_failure (const DeblurGraph *nodes)
{
  const gchar *failure = failure_of (nodes->deblur);

  return failure ? failure : failure_of (nodes->map);
}

void
deblur_graph_set_cancel (const DeblurGraph *nodes, gint *cancel)
{
  g_object_set_data (G_OBJECT (gegl_node_get_gegl_operation (nodes->deblur)),
                     FDIKP_DEBLUR_CANCEL_KEY, cancel);
  if (nodes->map)
    g_object_set_data (G_OBJECT (gegl_node_get_gegl_operation (nodes->map)),
                       FDIKP_DEBLUR_CANCEL_KEY, cancel);
}
