/* What the plug-in's procedures share about the GEGL operation each runs
 * (fdikp:defocus-deblur, fdikp:defocus-map): their arguments read from the
 * op's properties, those arguments set back on a node, and the dialog rows
 * built for them.
 *
 * Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later. */

#ifndef FDIKP_DEBLUR_OPERATION_H
#define FDIKP_DEBLUR_OPERATION_H

#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

/* Adds one argument to `procedure` per property of `operation`: the same
 * names, labels, descriptions (the op's translations), ranges and
 * defaults, so that a property added to or changed in the op reaches the
 * PDB and the dialog with no second declaration. An enum property becomes
 * a choice whose ids are the enum's values and whose nicks are its nicks.
 * Returns FALSE, with a warning, when the op is missing or has a property
 * of a type this does not map. Calls gegl_init(). */
gboolean   fdikp_operation_add_arguments (GimpProcedure *procedure, const gchar *operation);

/* Sets each of `operation`'s properties on `node` from the argument of the
 * same name in `config` (a choice by its id, the enum's value). */
void       fdikp_operation_set_properties (GeglNode            *node,
                                           GimpProcedureConfig *config,
                                           const gchar         *operation);

/* The names of `operation`'s properties but "model", which the dialog
 * shows with the model chooser. Free with g_list_free_full (list, g_free). */
GList     *fdikp_operation_settings_but_model (const gchar *operation);

/* The dialog's "Model" row for the argument "model" of `config`: the op's
 * label and description, and the chooser of the installed models. */
GtkWidget *fdikp_operation_model_row_new (GimpProcedureConfig *config, const gchar *operation);

/* Makes the dialog's spin button for the int argument `property` show
 * `automatic` (the contract's value for "chosen for the model, device and
 * memory": FDIKP_*_AUTOMATIC in engine/option_limits.h) as "Automatic" and
 * take that word back as that value. */
void fdikp_show_automatic (GimpProcedureDialog *dialog, const gchar *property, gint automatic);

#endif /* FDIKP_DEBLUR_OPERATION_H */
