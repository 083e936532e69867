/* What the plug-in's procedures share about the GEGL operation each runs:
 * see operation.h.
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

#include "model-chooser.h"
#include "operation.h"

gboolean
fdikp_operation_add_arguments (GimpProcedure *procedure, const gchar *operation)
{
  const gchar *procedure_name = gimp_procedure_get_name (procedure);
  GParamSpec **props;
  guint        n_props = 0;
  gboolean     ok      = TRUE;

  gegl_init (NULL, NULL);
  if (! gegl_has_operation (operation))
    {
      g_warning ("%s: the GEGL operation %s is not installed", procedure_name, operation);
      return FALSE;
    }
  props = gegl_operation_list_properties (operation, &n_props);
  for (guint i = 0; i < n_props; i++)
    {
      GParamSpec  *spec  = props[i];
      const gchar *name  = g_param_spec_get_name (spec);
      const gchar *label = g_param_spec_get_nick (spec);
      const gchar *blurb = g_param_spec_get_blurb (spec);

      if (G_IS_PARAM_SPEC_STRING (spec))
        {
          gimp_procedure_add_string_argument (procedure, name, label, blurb,
                                              G_PARAM_SPEC_STRING (spec)->default_value,
                                              G_PARAM_READWRITE);
        }
      else if (G_IS_PARAM_SPEC_INT (spec))
        {
          GParamSpecInt *range = G_PARAM_SPEC_INT (spec);

          gimp_procedure_add_int_argument (procedure, name, label, blurb, range->minimum,
                                           range->maximum, range->default_value, G_PARAM_READWRITE);
        }
      else if (G_IS_PARAM_SPEC_ENUM (spec))
        {
          GParamSpecEnum *values = G_PARAM_SPEC_ENUM (spec);
          GimpChoice     *choice = gimp_choice_new ();
          GEnumValue     *fallback;

          for (guint v = 0; v < values->enum_class->n_values; v++)
            gimp_choice_add (choice, values->enum_class->values[v].value_nick,
                             values->enum_class->values[v].value,
                             values->enum_class->values[v].value_name, NULL);
          fallback = g_enum_get_value (values->enum_class, values->default_value);
          gimp_procedure_add_choice_argument (procedure, name, label, blurb, choice,
                                              fallback->value_nick, G_PARAM_READWRITE);
        }
      else
        {
          g_warning ("%s: %s's property %s has a type the plug-in does not map (%s)",
                     procedure_name, operation, name, G_PARAM_SPEC_TYPE_NAME (spec));
          ok = FALSE;
        }
    }
  g_free (props);
  return ok;
}

void
fdikp_operation_set_properties (GeglNode *node, GimpProcedureConfig *config, const gchar *operation)
{
  GParamSpec **props;
  guint        n_props = 0;

  props = gegl_operation_list_properties (operation, &n_props);
  for (guint i = 0; i < n_props; i++)
    {
      const gchar *name  = g_param_spec_get_name (props[i]);
      GValue       value = G_VALUE_INIT;

      g_value_init (&value, G_PARAM_SPEC_VALUE_TYPE (props[i]));
      if (G_IS_PARAM_SPEC_ENUM (props[i]))
        g_value_set_enum (&value, gimp_procedure_config_get_choice_id (config, name));
      else
        g_object_get_property (G_OBJECT (config), name, &value);
      gegl_node_set_property (node, name, &value);
      g_value_unset (&value);
    }
  g_free (props);
}

GList *
fdikp_operation_settings_but_model (const gchar *operation)
{
  GParamSpec **props;
  guint        n_props = 0;
  GList       *names   = NULL;

  props = gegl_operation_list_properties (operation, &n_props);
  for (guint i = 0; i < n_props; i++)
    if (g_strcmp0 (g_param_spec_get_name (props[i]), "model") != 0)
      names = g_list_append (names, g_strdup (g_param_spec_get_name (props[i])));
  g_free (props);
  return names;
}

GtkWidget *
fdikp_operation_model_row_new (GimpProcedureConfig *config, const gchar *operation)
{
  GParamSpec *spec    = gegl_operation_find_property (operation, "model");
  GPtrArray  *models  = deblur_models_installed ();
  GtkWidget  *row     = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget  *chooser = deblur_model_chooser_new (G_OBJECT (config), "model", models);
  GtkWidget  *label   = gtk_label_new_with_mnemonic (spec ? g_param_spec_get_nick (spec)
                                                          : _ ("Model"));

  g_ptr_array_unref (models);
  gtk_label_set_mnemonic_widget (GTK_LABEL (label), chooser);
  gtk_label_set_xalign (GTK_LABEL (label), 0.0);
  if (spec)
    gtk_widget_set_tooltip_text (label, g_param_spec_get_blurb (spec));
  gtk_box_pack_start (GTK_BOX (row), label, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (row), chooser, TRUE, TRUE, 0);
  gtk_widget_show_all (row);
  return row;
}

static gint
automatic_input (GtkSpinButton *spin, gdouble *value, gpointer data)
{
  if (g_strcmp0 (gtk_entry_get_text (GTK_ENTRY (spin)), _ ("Automatic")) != 0)
    return FALSE;
  *value = GPOINTER_TO_INT (data);
  return TRUE;
}

static gboolean
automatic_output (GtkSpinButton *spin, gpointer data)
{
  if (gtk_adjustment_get_value (gtk_spin_button_get_adjustment (spin)) != GPOINTER_TO_INT (data))
    return FALSE;
  gtk_entry_set_text (GTK_ENTRY (spin), _ ("Automatic"));
  return TRUE;
}

void
fdikp_show_automatic (GimpProcedureDialog *dialog, const gchar *property, gint automatic)
{
  GtkWidget *widget = gimp_procedure_dialog_get_widget (dialog, property, G_TYPE_NONE);
  GtkWidget *spin;

  if (! GIMP_IS_LABEL_SPIN (widget))
    return;
  spin = gimp_label_spin_get_spin_button (GIMP_LABEL_SPIN (widget));
  gtk_entry_set_width_chars (GTK_ENTRY (spin), MAX (6, g_utf8_strlen (_ ("Automatic"), -1)));
  /* A numeric spin button drops the letters of "Automatic". GIMP's spin
   * button parses input in a class handler that declines anything but
   * wrapping buttons, so these handlers need nothing removed (checked in
   * the dialog under Xvfb: docs/gimp-dialog.png). */
  gtk_spin_button_set_numeric (GTK_SPIN_BUTTON (spin), FALSE);
  g_signal_connect (spin, "input", G_CALLBACK (automatic_input), GINT_TO_POINTER (automatic));
  g_signal_connect (spin, "output", G_CALLBACK (automatic_output), GINT_TO_POINTER (automatic));
  gtk_spin_button_update (GTK_SPIN_BUTTON (spin));
}
