/* The dialog's model chooser (model-chooser.h).
 *
 * Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later. */

#include "config.h"

#include <glib/gi18n-lib.h>

#include "gegl-op/defocus-deblur.h"
#include "model-chooser.h"

enum
{
  COLUMN_LABEL, /* what the menu shows */
  COLUMN_VALUE, /* what the property gets: a name, a file, or "" */
  COLUMN_NAME,  /* the installed model's name (the default's too) */
  COLUMN_KIND,
  N_COLUMNS
};

enum
{
  KIND_MODEL, /* an installed model, or the default */
  KIND_FILE,  /* a file (or unknown name) the property holds */
  KIND_OTHER  /* "Other file…" */
};

typedef struct
{
  GtkComboBox  *combo;
  GtkListStore *store;
  GObject      *object;
  gchar        *property;
  gboolean      updating;
} Chooser;

#define CHOOSER_KEY "deblur-model-chooser"

static void
deblur_model_free (DeblurModel *model)
{
  g_free (model->name);
  g_free (model->label);
  g_free (model->path);
  g_free (model);
}

GPtrArray *
deblur_models_installed (void)
{
  GPtrArray   *models  = g_ptr_array_new_with_free_func ((GDestroyNotify) deblur_model_free);
  const gchar *listing = NULL;
  gchar      **lines;

  if (gegl_has_operation (FDIKP_DEBLUR_OPERATION))
    listing = gegl_operation_get_property_key (FDIKP_DEBLUR_OPERATION, "model",
                                               FDIKP_DEBLUR_MODELS_KEY);
  if (! listing)
    return models;

  lines = g_strsplit (listing, "\n", -1);
  for (gchar **line = lines; *line; line++)
    {
      gchar **fields = g_strsplit (*line, "\t", 4);

      if (g_strv_length (fields) == 4)
        {
          DeblurModel *model = g_new0 (DeblurModel, 1);

          model->name       = g_strdup (fields[0]);
          model->label      = g_strdup (fields[1]);
          model->path       = g_strdup (fields[2]);
          model->is_default = g_strcmp0 (fields[3], "default") == 0;
          g_ptr_array_add (models, model);
        }
      g_strfreev (fields);
    }
  g_strfreev (lines);
  return models;
}

static gchar *
property_value (Chooser *chooser)
{
  gchar *value = NULL;

  g_object_get (chooser->object, chooser->property, &value, NULL);
  return value ? value : g_strdup ("");
}

/* The row that shows `value`: the default for "", an installed model for
 * its name (in any case), else the file row, added or updated. */
static void
select_value (Chooser *chooser, const gchar *value)
{
  GtkTreeModel *model = GTK_TREE_MODEL (chooser->store);
  GtkTreeIter   iter, file_row, found;
  gboolean      have_file = FALSE, have_found = FALSE;

  for (gboolean ok = gtk_tree_model_get_iter_first (model, &iter); ok;
       ok          = gtk_tree_model_iter_next (model, &iter))
    {
      gchar *row_value, *row_name;
      gint   kind;

      gtk_tree_model_get (model, &iter, COLUMN_VALUE, &row_value, COLUMN_NAME, &row_name,
                                   COLUMN_KIND, &kind, -1);
      if (kind == KIND_FILE)
        {
          file_row  = iter;
          have_file = TRUE;
        }
      else if (kind == KIND_MODEL && ! have_found
               && (g_strcmp0 (row_value, value) == 0
                   || (*value && row_name && g_ascii_strcasecmp (row_name, value) == 0)))
        {
          found      = iter;
          have_found = TRUE;
        }
      g_free (row_value);
      g_free (row_name);
    }

  if (! have_found)
    {
      gchar *base = g_path_get_basename (value);

      if (! have_file)
        {
          GtkTreeIter other;

          /* Just above "Other file…", the last row. */
          gtk_tree_model_iter_nth_child (model, &other, NULL,
                                         gtk_tree_model_iter_n_children (model, NULL) - 1);
          gtk_list_store_insert_before (chooser->store, &file_row, &other);
        }
      gtk_list_store_set (chooser->store, &file_row, COLUMN_LABEL, base, COLUMN_VALUE, value,
                          COLUMN_NAME, NULL, COLUMN_KIND, KIND_FILE, -1);
      g_free (base);
      found = file_row;
    }
  else if (have_file)
    {
      /* A file no longer chosen leaves the menu. */
      gtk_list_store_remove (chooser->store, &file_row);
    }

  chooser->updating = TRUE;
  gtk_combo_box_set_active_iter (chooser->combo, &found);
  gtk_widget_set_tooltip_text (GTK_WIDGET (chooser->combo), *value ? value : NULL);
  chooser->updating = FALSE;
}

static void
set_value (Chooser *chooser, const gchar *value)
{
  gchar *current = property_value (chooser);

  if (g_strcmp0 (current, value) != 0)
    g_object_set (chooser->object, chooser->property, value, NULL);
  g_free (current);
  /* Also when unchanged: a cancelled "Other file…" goes back to it. */
  select_value (chooser, value);
}

static void
property_changed (GObject *object, GParamSpec *pspec, Chooser *chooser)
{
  gchar *value = property_value (chooser);

  if (! chooser->updating)
    select_value (chooser, value);
  g_free (value);
}

static void
pick_file (Chooser *chooser)
{
  GtkWidget     *toplevel = gtk_widget_get_toplevel (GTK_WIDGET (chooser->combo));
  GtkWidget     *dialog;
  GtkFileFilter *filter;
  gchar         *current = property_value (chooser);

  dialog = gtk_file_chooser_dialog_new (_ ("Choose a Model File"),
                                        GTK_IS_WINDOW (toplevel) ? GTK_WINDOW (toplevel) : NULL,
                                        GTK_FILE_CHOOSER_ACTION_OPEN, _ ("_Cancel"),
                                        GTK_RESPONSE_CANCEL, _ ("_Open"), GTK_RESPONSE_ACCEPT,
                                        NULL);
  filter = gtk_file_filter_new ();
  gtk_file_filter_set_name (filter, _ ("TorchScript models (*.pt)"));
  gtk_file_filter_add_pattern (filter, "*.pt");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), filter);
  filter = gtk_file_filter_new ();
  gtk_file_filter_set_name (filter, _ ("All files"));
  gtk_file_filter_add_pattern (filter, "*");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), filter);
  if (g_path_is_absolute (current))
    gtk_file_chooser_set_filename (GTK_FILE_CHOOSER (dialog), current);

  if (gtk_dialog_run (GTK_DIALOG (dialog)) == GTK_RESPONSE_ACCEPT)
    {
      gchar *file = gtk_file_chooser_get_filename (GTK_FILE_CHOOSER (dialog));

      set_value (chooser, file);
      g_free (file);
    }
  else
    {
      set_value (chooser, current);
    }
  gtk_widget_destroy (dialog);
  g_free (current);
}

static void
combo_changed (GtkComboBox *combo, Chooser *chooser)
{
  GtkTreeIter iter;
  gchar      *value;
  gint        kind;

  if (chooser->updating || ! gtk_combo_box_get_active_iter (combo, &iter))
    return;
  gtk_tree_model_get (GTK_TREE_MODEL (chooser->store), &iter, COLUMN_VALUE, &value, COLUMN_KIND,
                      &kind, -1);
  if (kind == KIND_OTHER)
    pick_file (chooser);
  else
    set_value (chooser, value ? value : "");
  g_free (value);
}

static void
chooser_free (Chooser *chooser)
{
  g_signal_handlers_disconnect_by_data (chooser->object, chooser);
  g_object_unref (chooser->object);
  g_object_unref (chooser->store);
  g_free (chooser->property);
  g_free (chooser);
}

GtkWidget *
deblur_model_chooser_new (GObject *object, const gchar *property, GPtrArray *models)
{
  Chooser         *chooser = g_new0 (Chooser, 1);
  GtkCellRenderer *cell;
  GtkTreeIter      iter;
  gboolean         have_default = FALSE;
  gchar           *signal;
  gchar           *value;

  chooser->store    = gtk_list_store_new (N_COLUMNS, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING,
                                          G_TYPE_INT);
  chooser->object   = g_object_ref (object);
  chooser->property = g_strdup (property);

  for (guint i = 0; i < models->len; i++)
    {
      const DeblurModel *model = g_ptr_array_index (models, i);
      gchar             *label = model->is_default
                         /* TRANSLATORS: %s is a model's label, "FDIKP-S (fast)" */
                                     ? g_strdup_printf (_ ("%s, the default"), model->label)
                                     : g_strdup (model->label);

      /* Choosing the default stores "", so that the setting follows the
       * default model when a better one is installed. */
      gtk_list_store_insert_with_values (chooser->store, &iter, -1, COLUMN_LABEL, label,
                                         COLUMN_VALUE, model->is_default ? "" : model->name,
                                         COLUMN_NAME, model->name, COLUMN_KIND, KIND_MODEL, -1);
      have_default |= model->is_default;
      g_free (label);
    }
  if (! have_default)
    gtk_list_store_insert_with_values (chooser->store, &iter, 0, COLUMN_LABEL,
                                       _ ("Default model (not installed)"), COLUMN_VALUE, "",
                                       COLUMN_KIND, KIND_MODEL, -1);
  gtk_list_store_insert_with_values (chooser->store, &iter, -1, COLUMN_LABEL, _ ("Other file…"),
                                     COLUMN_KIND, KIND_OTHER, -1);

  chooser->combo = GTK_COMBO_BOX (gtk_combo_box_new_with_model (GTK_TREE_MODEL (chooser->store)));
  cell           = gtk_cell_renderer_text_new ();
  g_object_set (cell, "ellipsize", PANGO_ELLIPSIZE_MIDDLE, NULL);
  gtk_cell_layout_pack_start (GTK_CELL_LAYOUT (chooser->combo), cell, TRUE);
  gtk_cell_layout_set_attributes (GTK_CELL_LAYOUT (chooser->combo), cell, "text", COLUMN_LABEL,
                                  NULL);
  g_object_set_data_full (G_OBJECT (chooser->combo), CHOOSER_KEY, chooser,
                          (GDestroyNotify) chooser_free);

  value = property_value (chooser);
  select_value (chooser, value);
  g_free (value);

  g_signal_connect (chooser->combo, "changed", G_CALLBACK (combo_changed), chooser);
  signal = g_strdup_printf ("notify::%s", property);
  g_signal_connect (object, signal, G_CALLBACK (property_changed), chooser);
  g_free (signal);

  return GTK_WIDGET (chooser->combo);
}

void
deblur_model_chooser_set_file (GtkWidget *widget, const gchar *file)
{
  Chooser *chooser = g_object_get_data (G_OBJECT (widget), CHOOSER_KEY);

  g_return_if_fail (chooser != NULL);
  set_value (chooser, file);
}
