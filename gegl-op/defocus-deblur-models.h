/* The installed models as fdikp:defocus-deblur presents them
 * (defocus-deblur-models.cc), for the op's property declarations.
 *
 * Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later. */

#ifndef FDIKP_DEFOCUS_DEBLUR_MODELS_H
#define FDIKP_DEFOCUS_DEBLUR_MODELS_H

#include <glib.h>

/* The text of the "model" property's FDIKP_DEBLUR_MODELS_KEY
 * (defocus-deblur.h), with the labels translated. */
const gchar *fdikp_deblur_model_listing (void);

/* The "model" property's description, translated, naming the installed
 * models and the default. */
const gchar *fdikp_deblur_model_description (void);

#endif /* FDIKP_DEFOCUS_DEBLUR_MODELS_H */
