/* fdikp-deblur: the GIMP 3 filter "Defocus Deblur…", which runs the GEGL
 * operation fdikp:defocus-deblur on the selected drawables in the plug-in's
 * own process, so that its failures reach the user as messages. The same
 * plug-in has "Defocus Map…" (defocus-map.c).
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

#include "deblur-graph.h"
#include "defocus-map.h"
#include "engine/option_limits.h"
#include "gegl-op/defocus-deblur.h"
#include "operation.h"
#include "preview.h"

#define PLUG_IN_PROC   "plug-in-fdikp-deblur"
#define PLUG_IN_BINARY "fdikp-deblur"
#define PLUG_IN_ROLE   "fdikp-deblur"

#define OPERATION FDIKP_DEBLUR_OPERATION

typedef struct _Deblur      Deblur;
typedef struct _DeblurClass DeblurClass;

struct _Deblur
{
  GimpPlugIn parent_instance;
};

struct _DeblurClass
{
  GimpPlugInClass parent_class;
};

#define DEBLUR_TYPE (deblur_get_type ())
#define DEBLUR(obj) (G_TYPE_CHECK_INSTANCE_CAST ((obj), DEBLUR_TYPE, Deblur))

GType                  deblur_get_type (void) G_GNUC_CONST;

static GList          *deblur_query_procedures (GimpPlugIn *plug_in);
static GimpProcedure  *deblur_create_procedure (GimpPlugIn *plug_in, const gchar *name);
static gboolean        deblur_set_i18n (GimpPlugIn  *plug_in,
                                        const gchar *procedure_name,
                                        gchar      **gettext_domain,
                                        gchar      **catalog_dir);

static GimpValueArray *deblur_run (GimpProcedure       *procedure,
                                   GimpRunMode          run_mode,
                                   GimpImage           *image,
                                   GimpDrawable       **drawables,
                                   GimpProcedureConfig *config,
                                   gpointer             run_data);

G_DEFINE_TYPE (Deblur, deblur, GIMP_TYPE_PLUG_IN)

GIMP_MAIN (DEBLUR_TYPE)

static void
deblur_class_init (DeblurClass *klass)
{
  GimpPlugInClass *plug_in_class = GIMP_PLUG_IN_CLASS (klass);

  plug_in_class->query_procedures = deblur_query_procedures;
  plug_in_class->create_procedure = deblur_create_procedure;
  plug_in_class->set_i18n         = deblur_set_i18n;
}

static void
deblur_init (Deblur *deblur)
{
}

static GList *
deblur_query_procedures (GimpPlugIn *plug_in)
{
  GList *names = g_list_append (NULL, g_strdup (PLUG_IN_PROC));

  return g_list_append (names, g_strdup (DEFOCUS_MAP_PROC));
}

/* GIMP would look for catalogs only below the plug-in's own folder; ours are
 * installed with the op's, in the system locale directory, so the domain is
 * bound here and GIMP's own scheme is declined (FALSE). */
static gboolean
deblur_set_i18n (GimpPlugIn  *plug_in,
                 const gchar *procedure_name,
                 gchar      **gettext_domain,
                 gchar      **catalog_dir)
{
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");

  return FALSE;
}

static GimpProcedure *
deblur_create_procedure (GimpPlugIn *plug_in, const gchar *name)
{
  GimpProcedure *procedure;

  if (g_strcmp0 (name, DEFOCUS_MAP_PROC) == 0)
    return defocus_map_create_procedure (plug_in);
  if (g_strcmp0 (name, PLUG_IN_PROC) != 0)
    return NULL;

  procedure = gimp_image_procedure_new (plug_in, name, GIMP_PDB_PROC_TYPE_PLUGIN, deblur_run, NULL,
                                        NULL);

  gimp_procedure_set_image_types (procedure, "RGB*, GRAY*");
  gimp_procedure_set_sensitivity_mask (procedure, GIMP_PROCEDURE_SENSITIVE_DRAWABLE
                                                      | GIMP_PROCEDURE_SENSITIVE_DRAWABLES);

  gimp_procedure_set_menu_label (procedure, _ ("Defocus Deblur..."));
  gimp_procedure_add_menu_path (procedure, "<Image>/Filters/Enhance");

  gimp_procedure_set_documentation (
      procedure, _ ("Sharpen a photo whose subject missed focus with a neural network"),
      _ ("Runs the FDIKP network (frequency-driven inverse kernel prediction) "
         "through the GEGL operation fdikp:defocus-deblur on each selected "
         "drawable, within the selection, as one undo step. Failures (a missing "
         "or invalid model, an unavailable CUDA device, too little memory) are "
         "reported and leave the image unchanged."),
      name);
  gimp_procedure_set_attribution (procedure, "The fdikp-deblur authors", "The fdikp-deblur authors",
                                  "2026");

  /* Without the op there is nothing to run: no procedure, rather than one
   * whose arguments would be wrong. */
  if (! fdikp_operation_add_arguments (procedure, OPERATION))
    {
      g_object_unref (procedure);
      return NULL;
    }
  /* "Only where out of focus": the procedure's own, not the op's. */
  deblur_graph_add_arguments (procedure);

  return procedure;
}

/* Where one drawable's run lies on the progress bar. */
typedef struct
{
  gdouble start;
  gdouble span;
} ProgressSpan;

/* One op's part of a drawable's span: with "Only where out of focus" the
 * deblur op fills the first half of it and the map op the second. */
typedef struct
{
  ProgressSpan *span;
  gdouble       start;
  gdouble       part;
} ProgressPart;

/* The operation reports after each tile: the bar counts tiles. (GeglNode's
 * "progress" signal carries only the fraction.) */
static void
progress_cb (GeglNode *node, gdouble fraction, ProgressPart *part)
{
  gimp_progress_update (part->span->start
                        + part->span->span
                              * (part->start + part->part * CLAMP (fraction, 0.0, 1.0)));
}

/* Runs the operation into the drawable's shadow buffer over the selection's
 * bounding box, which is what the network sees as its image: GIMP's own
 * filters (the op applied as a GimpDrawableFilter among them) crop their
 * input the same way, so both routes give the same pixels. GIMP applies the
 * selection mask itself when the shadow is merged. Returns FALSE with the
 * operation's message when the run failed; the drawable is never touched
 * here. */
static gboolean
deblur_into_shadow (GimpDrawable        *drawable,
                    GimpProcedureConfig *config,
                    ProgressSpan        *span,
                    GError             **error)
{
  GeglBuffer   *source = gimp_drawable_get_buffer (drawable);
  GeglBuffer   *shadow = gimp_drawable_get_shadow_buffer (drawable);
  GeglNode     *graph  = gegl_node_new ();
  GeglNode     *input;
  GeglNode     *crop;
  DeblurGraph   nodes;
  ProgressPart  deblur_part       = { span, 0.0, 1.0 };
  ProgressPart  map_part          = { span, 0.0, 0.5 };
  GeglBuffer   *map               = NULL;
  gboolean      only_out_of_focus = FALSE;
  GeglRectangle area;
  const gchar  *failure = NULL;
  gboolean      ok;
  gint          x, y, width, height;

  gimp_drawable_mask_intersect (drawable, &x, &y, &width, &height);
  g_object_get (config, DEBLUR_ONLY_OUT_OF_FOCUS, &only_out_of_focus, NULL);
  area.x      = x;
  area.y      = y;
  area.width  = width;
  area.height = height;

  input = gegl_node_new_child (graph, "operation", "gegl:buffer-source", "buffer", source, NULL);
  crop  = gegl_node_new_child (graph, "operation", "gegl:crop", "x", (gdouble) x, "y", (gdouble) y,
                               "width", (gdouble) width, "height", (gdouble) height, NULL);
  gegl_node_link (input, crop);

  /* "Only where out of focus": the map first, over the same area as the
   * deblur below, so that a model without one fails at once rather than
   * after the deblur. The whole area in one request (below). */
  if (only_out_of_focus)
    {
      GeglNode *map_node = deblur_graph_add_map (graph, crop, config);

      g_signal_connect (map_node, "progress", G_CALLBACK (progress_cb), &map_part);
      map = gegl_buffer_new (&area, babl_format ("Y float"));
      gegl_node_blit_buffer (map_node, map, &area, 0, GEGL_ABYSS_NONE);
      failure           = g_object_get_data (G_OBJECT (gegl_node_get_gegl_operation (map_node)),
                                             FDIKP_DEBLUR_ERROR_KEY);
      deblur_part.start = 0.5;
      deblur_part.part  = 0.5;
    }

  if (! failure)
    {
      /* The same graph as the dialog's preview (deblur-graph.h), the map
       * taken from the buffer just computed. */
      deblur_graph_build (&nodes, graph, crop, config, map);
      g_signal_connect (nodes.deblur, "progress", G_CALLBACK (progress_cb), &deblur_part);

      /* The whole area in one request: the op computes only what is asked
       * for, so a sink's chunks (gegl_node_process) would each redo the
       * tiles along their edges and restart the progress. */
      gegl_node_blit_buffer (nodes.output, shadow, &area, 0, GEGL_ABYSS_NONE);
      gegl_buffer_flush (shadow);
      failure = deblur_graph_failure (&nodes);
    }
  ok = (failure == NULL);
  if (! ok)
    g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                 /* TRANSLATORS: %s is the drawable's name, %s the engine's message */
                 _ ("Defocus Deblur failed on \"%s\": %s"),
                 gimp_item_get_name (GIMP_ITEM (drawable)), failure);

  g_object_unref (graph);
  g_clear_object (&map);
  g_object_unref (shadow);
  g_object_unref (source);

  return ok;
}

static GimpValueArray *
deblur_run (GimpProcedure       *procedure,
            GimpRunMode          run_mode,
            GimpImage           *image,
            GimpDrawable       **drawables,
            GimpProcedureConfig *config,
            gpointer             run_data)
{
  GError *error = NULL;
  GList  *work  = NULL;
  GList  *list;
  gint    n_work;
  gint    i;

  gegl_init (NULL, NULL);

  if (! drawables || ! drawables[0])
    {
      g_set_error (&error, GIMP_PLUG_IN_ERROR, 0,
                   _ ("Defocus Deblur needs at least one selected drawable"));
      return gimp_procedure_new_return_values (procedure, GIMP_PDB_CALLING_ERROR, error);
    }

  for (i = 0; drawables[i]; i++)
    {
      gint x, y, width, height;

      if (gimp_item_is_group (GIMP_ITEM (drawables[i])))
        {
          g_list_free (work);
          g_set_error (&error, GIMP_PLUG_IN_ERROR, 0,
                       _ ("Defocus Deblur cannot change the layer group \"%s\"; "
                          "select the layers inside it"),
                       gimp_item_get_name (GIMP_ITEM (drawables[i])));
          return gimp_procedure_new_return_values (procedure, GIMP_PDB_CALLING_ERROR, error);
        }
      /* A drawable outside the selection has nothing to change. */
      if (gimp_drawable_mask_intersect (drawables[i], &x, &y, &width, &height))
        work = g_list_append (work, drawables[i]);
    }

  if (run_mode == GIMP_RUN_INTERACTIVE)
    {
      DeblurPreview *preview = NULL;
      GtkWidget     *dialog;
      GtkWidget     *content;
      GList         *settings;
      gboolean       confirmed;

      gimp_ui_init (PLUG_IN_BINARY);
      dialog  = gimp_procedure_dialog_new (procedure, GIMP_PROCEDURE_CONFIG (config),
                                           _ ("Defocus Deblur"));
      content = gtk_dialog_get_content_area (GTK_DIALOG (dialog));
      fdikp_show_automatic (GIMP_PROCEDURE_DIALOG (dialog), "stages", FDIKP_STAGES_AUTOMATIC);
      fdikp_show_automatic (GIMP_PROCEDURE_DIALOG (dialog), "tile-size", FDIKP_TILE_SIZE_AUTOMATIC);
      fdikp_show_automatic (GIMP_PROCEDURE_DIALOG (dialog), "tile-overlap",
                            FDIKP_TILE_OVERLAP_AUTOMATIC);
      settings = fdikp_operation_settings_but_model (OPERATION);
      settings = g_list_append (settings, g_strdup (DEBLUR_ONLY_OUT_OF_FOCUS));
      settings = g_list_append (settings, g_strdup (DEBLUR_FOCUS_THRESHOLD));
      settings = g_list_append (settings, g_strdup (DEBLUR_FOCUS_FEATHER));
      /* The threshold and feather matter only with the option on. */
      gimp_procedure_dialog_set_sensitive (GIMP_PROCEDURE_DIALOG (dialog), DEBLUR_FOCUS_THRESHOLD,
                                           TRUE, G_OBJECT (config), DEBLUR_ONLY_OUT_OF_FOCUS,
                                           FALSE);
      gimp_procedure_dialog_set_sensitive (GIMP_PROCEDURE_DIALOG (dialog), DEBLUR_FOCUS_FEATHER,
                                           TRUE, G_OBJECT (config), DEBLUR_ONLY_OUT_OF_FOCUS,
                                           FALSE);
      gimp_procedure_dialog_fill_list (GIMP_PROCEDURE_DIALOG (dialog), settings);
      g_list_free_full (settings, g_free);
      /* From the top: the preview, the model, the other settings. */
      if (gegl_has_operation (OPERATION))
        {
          GtkWidget *row = fdikp_operation_model_row_new (config, OPERATION);

          gtk_box_pack_start (GTK_BOX (content), row, FALSE, FALSE, 0);
          gtk_box_reorder_child (GTK_BOX (content), row, 0);
        }
      /* The preview shows the first drawable the filter will change. */
      if (work && gegl_has_operation (OPERATION))
        {
          GeglRectangle area;

          gimp_drawable_mask_intersect (work->data, &area.x, &area.y, &area.width, &area.height);
          preview = deblur_preview_new (work->data, config, &area);
          gtk_box_pack_start (GTK_BOX (content), deblur_preview_widget (preview), TRUE, TRUE, 0);
          gtk_box_reorder_child (GTK_BOX (content), deblur_preview_widget (preview), 0);
        }
      confirmed = gimp_procedure_dialog_run (GIMP_PROCEDURE_DIALOG (dialog));
      if (preview)
        deblur_preview_free (preview);
      gtk_widget_destroy (dialog);

      if (! confirmed)
        {
          g_list_free (work);
          return gimp_procedure_new_return_values (procedure, GIMP_PDB_CANCEL, NULL);
        }
    }

  if (! gegl_has_operation (OPERATION))
    {
      g_list_free (work);
      g_set_error (&error, GIMP_PLUG_IN_ERROR, 0,
                   _ ("The GEGL operation %s is not installed: install fdikp-deblur's "
                      "GEGL module in GEGL's plug-in folder"),
                   OPERATION);
      return gimp_procedure_new_return_values (procedure, GIMP_PDB_EXECUTION_ERROR, error);
    }

  gimp_progress_init (_ ("Defocus Deblur"));

  /* Every drawable is deblurred into its shadow first; only when all have
   * succeeded are the shadows merged, in one undo group, so that a failure
   * leaves the image (and its undo history) exactly as it was. */
  n_work = g_list_length (work);
  i      = 0;
  for (list = work; list; list = list->next, i++)
    {
      ProgressSpan span = { (gdouble) i / n_work, 1.0 / n_work };

      if (! deblur_into_shadow (list->data, config, &span, &error))
        break;
    }

  if (! error && work)
    {
      gimp_image_undo_group_start (image);
      for (list = work; list; list = list->next)
        {
          GimpDrawable *drawable = list->data;
          gint          x, y, width, height;

          gimp_drawable_merge_shadow (drawable, TRUE);
          gimp_drawable_mask_intersect (drawable, &x, &y, &width, &height);
          gimp_drawable_update (drawable, x, y, width, height);
        }
      gimp_image_undo_group_end (image);

      if (run_mode != GIMP_RUN_NONINTERACTIVE)
        gimp_displays_flush ();
    }

  gimp_progress_end ();
  g_list_free (work);

  if (error)
    return gimp_procedure_new_return_values (procedure, GIMP_PDB_EXECUTION_ERROR, error);

  return gimp_procedure_new_return_values (procedure, GIMP_PDB_SUCCESS, NULL);
}
