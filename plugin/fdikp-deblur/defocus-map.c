/* "Defocus Map…": runs the GEGL operation fdikp:defocus-map on the active
 * drawable and shows where the photo is out of focus, and by how much, as
 * a new layer above it or as its layer's mask. The op gives the radius of
 * the blur disc in pixels; the layer or mask gets radius / max-radius,
 * clamped to [0, 1]: black is sharp, white at least max-radius of blur.
 *
 * This program is free software: you can redistribute it and/or modify it
 * under the terms of the GNU General Public License as published by the Free
 * Software Foundation, either version 3 of the License, or (at your option)
 * any later version.
 *
 * Copyright (C) 2026 The fdikp-deblur authors.
 */

#include "config.h"

#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include <glib/gi18n-lib.h>

#include "defocus-map.h"
#include "engine/option_limits.h"
#include "gegl-op/defocus-deblur.h"
#include "operation.h"

#define PLUG_IN_BINARY "fdikp-deblur"

#define OPERATION FDIKP_DEFOCUS_MAP_OPERATION

/* The ids of the "output" argument's choices. */
typedef enum
{
  DEFOCUS_MAP_OUTPUT_LAYER,
  DEFOCUS_MAP_OUTPUT_MASK
} DefocusMapOutput;

static GimpValueArray *defocus_map_run (GimpProcedure       *procedure,
                                        GimpRunMode          run_mode,
                                        GimpImage           *image,
                                        GimpDrawable       **drawables,
                                        GimpProcedureConfig *config,
                                        gpointer             run_data);

GimpProcedure *
defocus_map_create_procedure (GimpPlugIn *plug_in)
{
  GimpProcedure *procedure;
  GimpChoice    *output;

  procedure = gimp_image_procedure_new (plug_in, DEFOCUS_MAP_PROC, GIMP_PDB_PROC_TYPE_PLUGIN,
                                        defocus_map_run, NULL, NULL);

  gimp_procedure_set_image_types (procedure, "RGB*, GRAY*");
  gimp_procedure_set_sensitivity_mask (procedure, GIMP_PROCEDURE_SENSITIVE_DRAWABLE);

  gimp_procedure_set_menu_label (procedure, _ ("Defocus Map..."));
  gimp_procedure_add_menu_path (procedure, "<Image>/Filters/Enhance");

  gimp_procedure_set_documentation (
      procedure, _ ("Show where a photo is out of focus, and by how much"),
      _ ("Runs the defocus map of a model that carries one (the GEGL operation "
         "fdikp:defocus-map) on the active drawable: at each pixel the radius of "
         "the blur disc, divided by the maximum radius and clamped to [0, 1], so "
         "that black is in focus and white blurred by at least the maximum "
         "radius. The map becomes a new layer \"Defocus map\" above the drawable "
         "or the mask of its layer (an existing mask is replaced), as one undo "
         "step. A model without a map, like any other failure, is reported and "
         "leaves the image unchanged."),
      DEFOCUS_MAP_PROC);
  gimp_procedure_set_attribution (procedure, "The fdikp-deblur authors", "The fdikp-deblur authors",
                                  "2026");

  /* The op's own properties first (the model, the device, the tiles), as
   * the deblur procedure has them; without the op, no procedure. */
  if (! fdikp_operation_add_arguments (procedure, OPERATION))
    {
      g_object_unref (procedure);
      return NULL;
    }

  output = gimp_choice_new ();
  gimp_choice_add (output, "layer", DEFOCUS_MAP_OUTPUT_LAYER, _ ("A new layer above the drawable"),
                   NULL);
  gimp_choice_add (output, "mask", DEFOCUS_MAP_OUTPUT_MASK,
                   _ ("The layer's mask (replacing its mask)"), NULL);
  gimp_procedure_add_choice_argument (procedure, "output", _ ("_Output"), _ ("Where the map goes"),
                                      output, "layer", G_PARAM_READWRITE);
  gimp_procedure_add_double_argument (
      procedure, "max-radius", _ ("_Maximum radius"),
      _ ("The blur radius, in pixels, that the map shows as white: each pixel "
         "is its radius divided by this, at most 1"),
      0.5, 64.0, 8.0, G_PARAM_READWRITE);

  return procedure;
}

/* The operation reports after each tile: the bar counts tiles. */
static void
progress_cb (GeglNode *node, gdouble fraction, gpointer data)
{
  gimp_progress_update (CLAMP (fraction, 0.0, 1.0));
}

/* The radii of `drawable`'s whole extent in pixels, as a new "Y float"
 * buffer in the drawable's coordinates; or NULL, with the operation's
 * message, when the run failed. Nothing in the image is touched. */
static GeglBuffer *
defocus_map_compute (GimpDrawable *drawable, GimpProcedureConfig *config, GError **error)
{
  GeglBuffer  *source = gimp_drawable_get_buffer (drawable);
  GeglBuffer  *radii  = gegl_buffer_new (gegl_buffer_get_extent (source), babl_format ("Y float"));
  GeglNode    *graph  = gegl_node_new ();
  GeglNode    *input;
  GeglNode    *map;
  const gchar *failure;

  input = gegl_node_new_child (graph, "operation", "gegl:buffer-source", "buffer", source, NULL);
  map   = gegl_node_new_child (graph, "operation", OPERATION, NULL);
  fdikp_operation_set_properties (map, config, OPERATION);
  gegl_node_link (input, map);
  g_signal_connect (map, "progress", G_CALLBACK (progress_cb), NULL);

  /* The whole drawable in one request, so that the tiles are planned once
   * (see deblur_into_shadow). */
  gegl_node_blit_buffer (map, radii, gegl_buffer_get_extent (source), 0, GEGL_ABYSS_NONE);

  failure = g_object_get_data (G_OBJECT (gegl_node_get_gegl_operation (map)),
                               FDIKP_DEBLUR_ERROR_KEY);
  if (failure)
    {
      g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                   /* TRANSLATORS: %s is the drawable's name, %s the engine's message */
                   _ ("Defocus Map failed on \"%s\": %s"),
                   gimp_item_get_name (GIMP_ITEM (drawable)), failure);
      g_clear_object (&radii);
    }

  g_object_unref (graph);
  g_object_unref (source);

  return radii;
}

/* The grey format of `drawable` in its own encoding and space: a value
 * written in it is the value the drawable stores, whatever its precision. */
static const Babl *
grey_format (GimpDrawable *drawable)
{
  const Babl   *format = gimp_drawable_get_format (drawable);
  BablModelFlag flags  = babl_get_model_flags (babl_format_get_model (format));
  const gchar  *grey   = "Y' float";

  if (flags & BABL_MODEL_FLAG_LINEAR)
    grey = "Y float";
  else if (flags & BABL_MODEL_FLAG_PERCEPTUAL)
    grey = "Y~ float";
  return babl_format_with_space (grey, format);
}

/* Writes radius / max_radius, clamped to [0, 1], into all of `drawable`,
 * whose buffer has the extent of `radii`. */
static void
write_map (GimpDrawable *drawable, GeglBuffer *radii, gdouble max_radius)
{
  GeglBuffer         *target = gimp_drawable_get_buffer (drawable);
  GeglBufferIterator *iter;

  iter = gegl_buffer_iterator_new (target, NULL, 0, grey_format (drawable), GEGL_ACCESS_WRITE,
                                   GEGL_ABYSS_NONE, 2);
  gegl_buffer_iterator_add (iter, radii, NULL, 0, babl_format ("Y float"), GEGL_ACCESS_READ,
                            GEGL_ABYSS_NONE);
  while (gegl_buffer_iterator_next (iter))
    {
      gfloat       *value  = iter->items[0].data;
      const gfloat *radius = iter->items[1].data;

      for (gint i = 0; i < iter->length; i++)
        value[i] = CLAMP (radius[i] / max_radius, 0.0, 1.0);
    }
  gegl_buffer_flush (target);
  g_object_unref (target);

  gimp_drawable_update (drawable, 0, 0, gimp_drawable_get_width (drawable),
                        gimp_drawable_get_height (drawable));
}

/* A new layer "Defocus map" with the map, above `above` (in its group) or,
 * for a channel, at the top of the image, with the same size and place. */
static void
add_map_layer (GimpImage    *image,
               GimpDrawable *source,
               GimpLayer    *above,
               GeglBuffer   *radii,
               gdouble       max_radius)
{
  GimpImageType type = (gimp_image_get_base_type (image) == GIMP_GRAY) ? GIMP_GRAY_IMAGE
                                                                       : GIMP_RGB_IMAGE;
  GimpLayer    *layer;
  GimpLayer    *parent   = NULL;
  gint          position = 0;
  gint          x, y;

  layer = gimp_layer_new (image, _ ("Defocus map"), gimp_drawable_get_width (source),
                          gimp_drawable_get_height (source), type, 100.0,
                          gimp_image_get_default_new_layer_mode (image));
  if (above)
    {
      parent   = GIMP_LAYER (gimp_item_get_parent (GIMP_ITEM (above)));
      position = gimp_image_get_item_position (image, GIMP_ITEM (above));
    }
  gimp_image_insert_layer (image, layer, parent, position);
  gimp_drawable_get_offsets (source, &x, &y);
  gimp_layer_set_offsets (layer, x, y);
  write_map (GIMP_DRAWABLE (layer), radii, max_radius);
}

/* The map as `layer`'s mask, in place of the mask it may have. */
static void
set_map_mask (GimpLayer *layer, GeglBuffer *radii, gdouble max_radius)
{
  GimpLayerMask *mask;

  if (gimp_layer_get_mask (layer))
    gimp_layer_remove_mask (layer, GIMP_MASK_DISCARD);
  mask = gimp_layer_create_mask (layer, GIMP_ADD_MASK_BLACK);
  gimp_layer_add_mask (layer, mask);
  write_map (GIMP_DRAWABLE (mask), radii, max_radius);
}

static gboolean
defocus_map_dialog (GimpProcedure *procedure, GimpProcedureConfig *config)
{
  GtkWidget *dialog;
  GtkWidget *content;
  gboolean   confirmed;

  gimp_ui_init (PLUG_IN_BINARY);
  dialog  = gimp_procedure_dialog_new (procedure, config, _ ("Defocus Map"));
  content = gtk_dialog_get_content_area (GTK_DIALOG (dialog));

  gimp_procedure_dialog_get_widget (GIMP_PROCEDURE_DIALOG (dialog), "output",
                                    GIMP_TYPE_INT_RADIO_FRAME);
  fdikp_show_automatic (GIMP_PROCEDURE_DIALOG (dialog), "tile-size", FDIKP_TILE_SIZE_AUTOMATIC);
  fdikp_show_automatic (GIMP_PROCEDURE_DIALOG (dialog), "tile-overlap",
                        FDIKP_TILE_OVERLAP_AUTOMATIC);
  /* Not "precision": the op has it, but the engine computes a map in
   * float32 whatever it says. */
  gimp_procedure_dialog_fill (GIMP_PROCEDURE_DIALOG (dialog), "output", "max-radius", "device",
                              "tile-size", "tile-overlap", NULL);
  /* The model on top, with the deblur dialog's chooser. */
  if (gegl_has_operation (OPERATION))
    {
      GtkWidget *row = fdikp_operation_model_row_new (config, OPERATION);

      gtk_box_pack_start (GTK_BOX (content), row, FALSE, FALSE, 0);
      gtk_box_reorder_child (GTK_BOX (content), row, 0);
    }
  confirmed = gimp_procedure_dialog_run (GIMP_PROCEDURE_DIALOG (dialog));
  gtk_widget_destroy (dialog);

  return confirmed;
}

static GimpValueArray *
defocus_map_run (GimpProcedure       *procedure,
                 GimpRunMode          run_mode,
                 GimpImage           *image,
                 GimpDrawable       **drawables,
                 GimpProcedureConfig *config,
                 gpointer             run_data)
{
  GimpDrawable *drawable;
  GimpDrawable *source;
  GimpLayer    *layer = NULL;
  GeglBuffer   *radii;
  GError       *error = NULL;
  gint          output;
  gdouble       max_radius;

  gegl_init (NULL, NULL);

  if (! drawables || ! drawables[0] || drawables[1])
    {
      g_set_error (&error, GIMP_PLUG_IN_ERROR, 0,
                   _ ("Defocus Map works on one drawable: select one layer"));
      return gimp_procedure_new_return_values (procedure, GIMP_PDB_CALLING_ERROR, error);
    }
  drawable = drawables[0];
  if (gimp_item_is_group (GIMP_ITEM (drawable)))
    {
      g_set_error (&error, GIMP_PLUG_IN_ERROR, 0,
                   _ ("Defocus Map cannot read the layer group \"%s\"; "
                      "select a layer inside it"),
                   gimp_item_get_name (GIMP_ITEM (drawable)));
      return gimp_procedure_new_return_values (procedure, GIMP_PDB_CALLING_ERROR, error);
    }

  if (run_mode == GIMP_RUN_INTERACTIVE && ! defocus_map_dialog (procedure, config))
    return gimp_procedure_new_return_values (procedure, GIMP_PDB_CANCEL, NULL);

  output = gimp_procedure_config_get_choice_id (config, "output");
  g_object_get (config, "max-radius", &max_radius, NULL);

  /* A layer mask stands for its layer: the map is the photo's. */
  if (GIMP_IS_LAYER_MASK (drawable))
    layer = gimp_layer_from_mask (GIMP_LAYER_MASK (drawable));
  else if (GIMP_IS_LAYER (drawable))
    layer = GIMP_LAYER (drawable);
  source = layer ? GIMP_DRAWABLE (layer) : drawable;

  if (output == DEFOCUS_MAP_OUTPUT_MASK && ! layer)
    {
      g_set_error (&error, GIMP_PLUG_IN_ERROR, 0,
                   _ ("Defocus Map can make a mask only for a layer, and \"%s\" is a channel"),
                   gimp_item_get_name (GIMP_ITEM (drawable)));
      return gimp_procedure_new_return_values (procedure, GIMP_PDB_CALLING_ERROR, error);
    }

  if (! gegl_has_operation (OPERATION))
    {
      g_set_error (&error, GIMP_PLUG_IN_ERROR, 0,
                   _ ("The GEGL operation %s is not installed: install fdikp-deblur's "
                      "GEGL module in GEGL's plug-in folder"),
                   OPERATION);
      return gimp_procedure_new_return_values (procedure, GIMP_PDB_EXECUTION_ERROR, error);
    }

  /* The map is computed before anything changes, so that a failure leaves
   * the image (and its undo history) exactly as it was. */
  gimp_progress_init (_ ("Defocus Map"));
  radii = defocus_map_compute (source, config, &error);
  if (radii)
    {
      gimp_image_undo_group_start (image);
      if (output == DEFOCUS_MAP_OUTPUT_MASK)
        set_map_mask (layer, radii, max_radius);
      else
        add_map_layer (image, source, layer, radii, max_radius);
      gimp_image_undo_group_end (image);
      g_object_unref (radii);

      if (run_mode != GIMP_RUN_NONINTERACTIVE)
        gimp_displays_flush ();
    }
  gimp_progress_end ();

  if (error)
    return gimp_procedure_new_return_values (procedure, GIMP_PDB_EXECUTION_ERROR, error);

  return gimp_procedure_new_return_values (procedure, GIMP_PDB_SUCCESS, NULL);
}
