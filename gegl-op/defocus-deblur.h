/* The interface of the GEGL operation fdikp:defocus-deblur (and of
 * fdikp:defocus-map) for the hosts that run it in their own process (the
 * GIMP plug-in, tests): its name and the object data it reads and writes on
 * the GeglOperation. GEGL has no channel for either, so both sides use
 * these names.
 *
 * Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later. */

#ifndef FDIKP_DEFOCUS_DEBLUR_H
#define FDIKP_DEFOCUS_DEBLUR_H

#define FDIKP_DEBLUR_OPERATION "fdikp:defocus-deblur"

/* Its sibling in the same module: the defocus map of a model that carries
 * one, one float per pixel ("Y float"), the radius of the blur disc in
 * pixels. It has the same properties but "stages", and the same keys below
 * (on failure its output is 0 everywhere). */
#define FDIKP_DEFOCUS_MAP_OPERATION "fdikp:defocus-map"

/* A host that cancels from inside its process attaches a gint flag to the
 * operation under this key; the engine polls it before each tile, and a
 * cancelled run leaves the output equal to the input. Only a test sets it
 * today: GIMP cancels the plug-in by ending its process
 * (tests/plugin/gui-cancel). */
#define FDIKP_DEBLUR_CANCEL_KEY "fdikp-deblur-cancel"

/* After each run the operation carries, under this key, the failure message
 * meant for the user (a UTF-8 string owned by the operation), or nothing
 * when the run succeeded or was cancelled: a host that must report failures
 * (the GIMP plug-in) reads it after processing. */
#define FDIKP_DEBLUR_ERROR_KEY "fdikp-deblur-error"

/* The installed models, as the operation found them when it was
 * registered, under this key of its "model" property
 * (gegl_param_spec_get_property_key): one line per model, in the order a
 * menu shows them, of four tab-separated fields: the name scripts give as
 * "model", the label menus show ("FDIKP-S (fast)", translated), the file,
 * and "default" for the model an empty "model" runs (else empty). */
#define FDIKP_DEBLUR_MODELS_KEY "fdikp-models"

#endif /* FDIKP_DEFOCUS_DEBLUR_H */
