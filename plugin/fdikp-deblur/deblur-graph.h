/* The graph that the deblur procedure runs and its dialog's preview shows:
 * fdikp:defocus-deblur on the cropped drawable, and with "Only where out of
 * focus" on, the result blended with the input by the model's defocus map
 * (fdikp:defocus-map on the same input, with the same settings). One
 * builder for both, so that the preview and the final run cannot differ.
 *
 * Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later. */

#ifndef FDIKP_DEBLUR_GRAPH_H
#define FDIKP_DEBLUR_GRAPH_H

#include <libgimp/gimp.h>

/* The procedure's own arguments, beside the op's properties. */
#define DEBLUR_ONLY_OUT_OF_FOCUS "only-out-of-focus"
#define DEBLUR_FOCUS_THRESHOLD   "focus-threshold"
#define DEBLUR_FOCUS_FEATHER     "focus-feather"

typedef struct
{
  GeglNode *output; /* what to process: the deblur op, or the blend */
  GeglNode *deblur; /* fdikp:defocus-deblur */
  GeglNode *map;    /* fdikp:defocus-map, or NULL when the option is off */
} DeblurGraph;

/* Adds the three arguments above to the deblur procedure. */
void         deblur_graph_add_arguments (GimpProcedure *procedure);

/* Adds fdikp:defocus-map on `input` to `graph`, with the settings of
 * `config` (those it shares with the deblur op). */
GeglNode    *deblur_graph_add_map (GeglNode *graph, GeglNode *input, GimpProcedureConfig *config);

/* Builds the graph in `graph` on `input` (the drawable, cropped to what the
 * network sees as its image) from the procedure's arguments in `config`.
 * With the option off it is the deblur op alone, exactly as before the
 * option existed. With it on, the blend takes its map from `map` when
 * given (the map op's output over the region to be processed, computed
 * beforehand: the procedure does so, so that a model without a map fails
 * before the long deblur; nodes->map is then NULL), else from a map op in
 * the graph (deblur_graph_add_map: the preview). */
void         deblur_graph_build (DeblurGraph         *nodes,
                                 GeglNode            *graph,
                                 GeglNode            *input,
                                 GimpProcedureConfig *config,
                                 GeglBuffer          *map);

/* After processing: the first failure message of the graph's ops (the
 * deblur op's, then the map's: "... has no defocus map" for a model
 * without one), or NULL. Owned by the op. */
const gchar *deblur_graph_failure (const DeblurGraph *nodes);

/* Sets the ops' cancel flag (FDIKP_DEBLUR_CANCEL_KEY) to `cancel`. */
void         deblur_graph_set_cancel (const DeblurGraph *nodes, gint *cancel);

/* The weight of the deblurred image at a map radius of `radius` px: a
 * smoothstep from threshold - feather / 2 (0) to threshold + feather / 2
 * (1); a feather of 0 is a step at the threshold. */
gdouble      deblur_focus_weight (gdouble radius, gdouble threshold, gdouble feather);

#endif /* FDIKP_DEBLUR_GRAPH_H */
