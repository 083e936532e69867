/* The dialog's model chooser: the installed models by name ("FDIKP-S
 * (fast)"), as the GEGL operation lists them, and "Other file…", which
 * opens a file chooser. It edits a string property (the procedure's
 * "model" argument: a model's name, a file, or "" for the default model)
 * and follows it when it changes. GTK and GEGL only, so it is tested on
 * its own (tests/plugin/test-model-chooser.c).
 *
 * Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later. */

#ifndef FDIKP_DEBLUR_MODEL_CHOOSER_H
#define FDIKP_DEBLUR_MODEL_CHOOSER_H

#include <gegl.h>
#include <gtk/gtk.h>

typedef struct
{
  gchar   *name;       /* what the "model" argument takes */
  gchar   *label;      /* what menus show, translated */
  gchar   *path;       /* the file */
  gboolean is_default; /* the model an empty "model" runs */
} DeblurModel;

/* The installed models, as the operation found them (gegl_init first): a
 * GPtrArray of DeblurModel, empty when none is installed or the op is
 * missing. Free with g_ptr_array_unref(). */
GPtrArray *deblur_models_installed (void);

/* A combo box editing `object`'s string property `property`. */
GtkWidget *deblur_model_chooser_new (GObject *object, const gchar *property, GPtrArray *models);

/* Makes `file` the chosen model, as "Other file…" does once the user has
 * picked one. */
void       deblur_model_chooser_set_file (GtkWidget *chooser, const gchar *file);

#endif /* FDIKP_DEBLUR_MODEL_CHOOSER_H */
