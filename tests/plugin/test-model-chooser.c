/* The dialog's model chooser (plugin/fdikp-deblur/model-chooser.h) on a
 * real GTK display (run under xvfb-run): the installed fixture models by
 * name, the default marked and stored as "", names typed in any case, a
 * file chosen by "Other file…", and the menu following the setting when
 * it changes elsewhere. A GtkEntry's "text" stands in for the procedure's
 * "model" argument.
 *
 * Run with FDIKP_MODEL_PATH = the fixture model folder and
 * FDIKP_DEFAULT_MODEL = its test-identity.pt.
 *
 * Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later. */

#include <string.h>

#include "plugin/fdikp-deblur/model-chooser.h"

static int failures = 0;

#define CHECK_STR(got, want)                                                    \
  do                                                                            \
    {                                                                           \
      const gchar *g_ = (got), *w_ = (want);                                    \
      if (g_strcmp0 (g_, w_) != 0)                                              \
        {                                                                       \
          g_printerr ("%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, g_, w_); \
          failures++;                                                           \
        }                                                                       \
    }                                                                           \
  while (0)

/* The menu's rows, "|"-separated, the active one in brackets. */
static gchar *
rows (GtkWidget *chooser)
{
  GtkComboBox  *combo  = GTK_COMBO_BOX (chooser);
  GtkTreeModel *model  = gtk_combo_box_get_model (combo);
  GString      *text   = g_string_new (NULL);
  gint          active = gtk_combo_box_get_active (combo);
  GtkTreeIter   iter;
  gint          i = 0;

  for (gboolean ok = gtk_tree_model_get_iter_first (model, &iter); ok;
       ok          = gtk_tree_model_iter_next (model, &iter), i++)
    {
      gchar *label;

      gtk_tree_model_get (model, &iter, 0, &label, -1);
      g_string_append_printf (text, i == active ? "%s[%s]" : "%s%s", i ? "|" : "", label);
      g_free (label);
    }
  return g_string_free (text, FALSE);
}

static void
check_rows (GtkWidget *chooser, const gchar *want, int line)
{
  gchar *got = rows (chooser);

  if (g_strcmp0 (got, want) != 0)
    {
      g_printerr ("%s:%d: rows\n  got  %s\n  want %s\n", __FILE__, line, got, want);
      failures++;
    }
  g_free (got);
}
#define CHECK_ROWS(chooser, want) check_rows ((chooser), (want), __LINE__)

static const gchar *
text (GtkWidget *entry)
{
  return gtk_entry_get_text (GTK_ENTRY (entry));
}

int
main (int argc, char **argv)
{
  GPtrArray *models, *none;
  GtkWidget *entry, *chooser, *empty;

  gtk_init (&argc, &argv);
  gegl_init (&argc, &argv);

  models = deblur_models_installed ();
  if (models->len != 3)
    {
      g_printerr ("expected the 3 fixture models, found %u (is FDIKP_MODEL_PATH set?)\n",
                  models->len);
      return 1;
    }
  CHECK_STR (((DeblurModel *) g_ptr_array_index (models, 1))->name, "test-identity");

  entry   = gtk_entry_new ();
  chooser = deblur_model_chooser_new (G_OBJECT (entry), "text", models);
  CHECK_ROWS (chooser, "plain|[Test Identity (fast), the default]|"
                       "Test Sharpen (best quality)|Other file…");

  /* Choosing a model stores its name; the default stores "". */
  gtk_combo_box_set_active (GTK_COMBO_BOX (chooser), 2);
  CHECK_STR (text (entry), "test-sharpen");
  gtk_combo_box_set_active (GTK_COMBO_BOX (chooser), 1);
  CHECK_STR (text (entry), "");

  /* The menu follows the setting: a name in any case, the default's
   * name, a file (shown by its base name, above "Other file…"). */
  gtk_entry_set_text (GTK_ENTRY (entry), "TEST-SHARPEN");
  CHECK_ROWS (chooser, "plain|Test Identity (fast), the default|"
                       "[Test Sharpen (best quality)]|Other file…");
  gtk_entry_set_text (GTK_ENTRY (entry), "test-identity");
  CHECK_ROWS (chooser, "plain|[Test Identity (fast), the default]|"
                       "Test Sharpen (best quality)|Other file…");
  gtk_entry_set_text (GTK_ENTRY (entry), "/some/where/mine.pt");
  CHECK_ROWS (chooser, "plain|Test Identity (fast), the default|"
                       "Test Sharpen (best quality)|[mine.pt]|Other file…");

  /* "Other file…" once a file is picked: one file row, the new file. */
  deblur_model_chooser_set_file (chooser, "/else/where/theirs.pt");
  CHECK_STR (text (entry), "/else/where/theirs.pt");
  CHECK_ROWS (chooser, "plain|Test Identity (fast), the default|"
                       "Test Sharpen (best quality)|[theirs.pt]|Other file…");

  /* Back to an installed model: the file leaves the menu. */
  gtk_combo_box_set_active (GTK_COMBO_BOX (chooser), 0);
  CHECK_STR (text (entry), "plain");
  CHECK_ROWS (chooser, "[plain]|Test Identity (fast), the default|"
                       "Test Sharpen (best quality)|Other file…");

  /* Nothing installed: the default is still a choice, and a file. */
  none  = g_ptr_array_new ();
  empty = deblur_model_chooser_new (G_OBJECT (gtk_entry_new ()), "text", none);
  CHECK_ROWS (empty, "[Default model (not installed)]|Other file…");

  gtk_widget_destroy (chooser);
  gtk_widget_destroy (empty);
  g_ptr_array_unref (models);
  g_ptr_array_unref (none);
  g_print ("%s\n", failures ? "FAILED" : "ok: the model chooser");
  return failures ? 1 : 0;
}
