/* The plug-in's second procedure, "Defocus Map…": where a photo is out of
 * focus and by how much, as a new layer or as the layer's mask.
 *
 * Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later. */

#ifndef FDIKP_DEBLUR_DEFOCUS_MAP_H
#define FDIKP_DEBLUR_DEFOCUS_MAP_H

#include <libgimp/gimp.h>

#define DEFOCUS_MAP_PROC "plug-in-fdikp-defocus-map"

/* The procedure, or NULL (with a warning) when the GEGL operation
 * fdikp:defocus-map is not installed. */
GimpProcedure *defocus_map_create_procedure (GimpPlugIn *plug_in);

#endif /* FDIKP_DEBLUR_DEFOCUS_MAP_H */
