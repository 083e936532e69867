/* The dialog's preview: the network run on the visible part of the drawable
 * only, in a worker thread, with progress, cancelled and restarted when a
 * parameter changes or the view moves, and a "Show original" toggle.
 *
 * Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later. */

#ifndef FDIKP_DEBLUR_PREVIEW_H
#define FDIKP_DEBLUR_PREVIEW_H

#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

typedef struct _DeblurPreview DeblurPreview;

/* The preview of `drawable` with the settings in `config` (the graph of
 * deblur-graph.h, as the procedure runs it), as a widget to pack into the dialog (a box: the
 * preview, a progress bar, the toggle). `area` is what the network sees as its image: the
 * selection's bounding box within the drawable, as in the real run. Free with deblur_preview_free()
 * before the dialog is destroyed: it stops the worker. */
DeblurPreview *
deblur_preview_new (GimpDrawable *drawable, GimpProcedureConfig *config, const GeglRectangle *area);
GtkWidget *deblur_preview_widget (DeblurPreview *preview);
void       deblur_preview_free (DeblurPreview *preview);

#endif /* FDIKP_DEBLUR_PREVIEW_H */
