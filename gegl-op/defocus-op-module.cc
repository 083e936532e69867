/* The GEGL module of fdikp:defocus-deblur and fdikp:defocus-map: one
 * module, so one engine and one model cache serve both ops (each op's file
 * is built with GEGL_OP_BUNDLE and registered here).
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
#include <glib/gi18n-lib.h>

extern "C"
{
  void                        gegl_op_defocus_deblur_register_type (GTypeModule *module);
  void                        gegl_op_defocus_map_register_type (GTypeModule *module);

  static const GeglModuleInfo modinfo = { GEGL_MODULE_ABI_VERSION };

  G_MODULE_EXPORT const GeglModuleInfo *
  gegl_module_query (GTypeModule *module)
  {
    return &modinfo;
  }

  G_MODULE_EXPORT gboolean
  gegl_module_register (GTypeModule *module)
  {
    /* Property descriptions are translated when a class is registered, so
     * the catalog is bound before GEGL registers the ops. */
    bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
    bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
    gegl_op_defocus_deblur_register_type (module);
    gegl_op_defocus_map_register_type (module);
    return TRUE;
  }
}
