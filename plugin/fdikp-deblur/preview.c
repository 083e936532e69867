/* The dialog's preview (preview.h).
 *
 * A GimpDrawablePreview shows part of the drawable; whenever it is
 * invalidated (scrolled, resized, its "Preview" box toggled) or a parameter
 * changes, the operation runs on the visible part only: the op computes the
 * region it is asked for on the tile grid of the whole image it sees (the
 * selection's bounding box, as in the real run), so the preview shows
 * exactly the pixels the filter will produce there. The run happens in a
 * worker thread, on a copy of the drawable read once in the main thread, and
 * is cancelled (the op's cancel flag, polled before each tile) and started
 * again when something changes meanwhile. The view is computed in bands of
 * rows, top to bottom, each shown as soon as it is done (the rows below
 * still the drawable's own), so a large view shows its first deblurred
 * rows after one row of tiles instead of all of them; the engine keeps the
 * tiles that reach past a band for the next one (its tile memo), so the
 * bands cost what one region costs. A progress bar follows its tiles;
 * "Show original" shows the drawable as it is.
 *
 * Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later. */

#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "deblur-graph.h"
#include "preview.h"

typedef struct _Job Job;

/* Rows a band of the view: a band shows once its tiles are done. */
#define BAND_ROWS 128

struct _DeblurPreview
{
  GimpDrawable        *drawable;
  GimpProcedureConfig *config;
  GeglRectangle        area;   /* what the network sees, drawable coordinates */
  gboolean             masked; /* the image has a selection (see draw_pixels) */
  GeglBuffer          *source; /* the drawable, copied once */
  const Babl          *format; /* what the preview area draws (8-bit, the drawable's type) */
  gint                 bpp;

  GtkWidget           *box;
  GtkWidget           *preview;
  GtkWidget           *progress;
  GtkWidget           *original;

  Job                 *job;      /* the run in the worker, or NULL */
  gboolean             pending;  /* something changed while it ran */
  gint                 cancel;   /* the running op's cancel flag */
  gint                 permille; /* its progress, written by the worker */
  guint                ticker;   /* the main-loop source showing the progress */

  guchar              *result; /* the last finished preview */
  GeglRectangle        result_rect;
  gint64               opened;   /* monotonic microseconds */
  gint                 finished; /* previews finished so far */
};

struct _Job
{
  DeblurPreview *preview;
  GThread       *thread;
  GeglNode      *graph;
  DeblurGraph    nodes;
  GeglRectangle  rect;       /* the preview's view, drawable coordinates */
  guchar        *pixels;     /* rect in preview->format, written band by band */
  GMutex         lock;       /* held while a band is copied into or pixels drawn */
  gint           bands;      /* bands finished (atomic: written by the worker) */
  gint           shown;      /* bands drawn so far (the main loop's) */
  gint64         first_band; /* when the first band was finished, or 0 */
  gchar         *error;      /* the op's message when it failed */
  gint64         started;
};

static void start_job (DeblurPreview *preview);

static void
job_free (Job *job)
{
  g_object_unref (job->graph);
  g_mutex_clear (&job->lock);
  g_free (job->pixels);
  g_free (job->error);
  g_free (job);
}

static void
view_rect (DeblurPreview *preview, GeglRectangle *rect)
{
  gimp_preview_get_position (GIMP_PREVIEW (preview->preview), &rect->x, &rect->y);
  gimp_preview_get_size (GIMP_PREVIEW (preview->preview), &rect->width, &rect->height);
}

/* The drawable's own pixels of `rect` in the preview's format. */
static guchar *
original_pixels (DeblurPreview *preview, const GeglRectangle *rect)
{
  guchar *pixels = g_malloc ((gsize) rect->width * rect->height * preview->bpp);

  gegl_buffer_get (preview->source, rect, 1.0, preview->format, pixels, rect->width * preview->bpp,
                   GEGL_ABYSS_NONE);
  return pixels;
}

/* Shows `pixels`, the view `rect` (rect->width pixels a row).
 *
 * With a selection, GimpDrawablePreview (libgimp 3.0.4) draws only the
 * part of the view inside the selection's bounds (`area`: the preview's
 * bounds are 8 pixels wider on each side) and masks it by the selection,
 * but it finds that part's first pixel in the buffer at
 *   dx * bpp + dy * inside.width * bpp
 * (dx, dy: the part's corner in the view), with the part's width instead
 * of the rowstride it is given: every row is read
 * dy * (rect->width - inside.width) pixels too early, the content shifted
 * right with a strip of the rows above at its left (64 pixels for a
 * 200 x 200 view of a larger selection). So the part goes packed,
 * inside.width pixels a row, after dx + dy * inside.width pixels of
 * padding: with the rowstride equal to the part's width both offsets are
 * the same, and this is right with a libgimp that fixes it as well. */
static void
draw_pixels (DeblurPreview *preview, const GeglRectangle *rect, const guchar *pixels)
{
  GeglRectangle inside;
  gint          bpp = preview->bpp;
  gsize         skip;
  const guchar *from;
  guchar       *packed;
  gint          row;

  if (! preview->masked || ! gegl_rectangle_intersect (&inside, rect, &preview->area))
    {
      gimp_preview_draw_buffer (GIMP_PREVIEW (preview->preview), pixels, rect->width * bpp);
      return;
    }
  skip   = (gsize) (inside.x - rect->x) + (gsize) (inside.y - rect->y) * inside.width;
  from   = pixels + ((gsize) (inside.y - rect->y) * rect->width + (inside.x - rect->x)) * bpp;
  packed = g_malloc ((skip + (gsize) inside.width * inside.height) * bpp);
  for (row = 0; row < inside.height; row++)
    memcpy (packed + (skip + (gsize) row * inside.width) * bpp,
            from + (gsize) row * rect->width * bpp, (gsize) inside.width * bpp);
  gimp_preview_draw_buffer (GIMP_PREVIEW (preview->preview), packed, inside.width * bpp);
  g_free (packed);
}

/* The finished result of the view, or the bands of the run under way for
 * this very view as far as they are done, or else the drawable itself. */
static void
draw (DeblurPreview *preview)
{
  GeglRectangle rect;
  gboolean      show_original;
  Job          *job = preview->job;

  view_rect (preview, &rect);
  show_original = gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (preview->original));
  if (! show_original && preview->result && gegl_rectangle_equal (&rect, &preview->result_rect))
    {
      draw_pixels (preview, &rect, preview->result);
    }
  else if (! show_original && job && g_atomic_int_get (&job->bands) > 0
           && ! g_atomic_int_get (&preview->cancel) && gegl_rectangle_equal (&rect, &job->rect))
    {
      job->shown = g_atomic_int_get (&job->bands);
      g_mutex_lock (&job->lock);
      draw_pixels (preview, &rect, job->pixels);
      g_mutex_unlock (&job->lock);
    }
  else
    {
      guchar *pixels = original_pixels (preview, &rect);

      draw_pixels (preview, &rect, pixels);
      g_free (pixels);
    }
}

/* Progress, from the worker thread: only stored; the main loop shows it. */
static void
job_progress (GeglNode *node, gdouble fraction, gpointer data)
{
  DeblurPreview *preview = data;

  g_atomic_int_set (&preview->permille, (gint) CLAMP (fraction * 1000.0, 0.0, 1000.0));
}

static gboolean
show_progress (gpointer data)
{
  DeblurPreview *preview = data;
  Job           *job     = preview->job;

  /* A band more is done: show it. */
  if (job && g_atomic_int_get (&job->bands) != job->shown && ! g_atomic_int_get (&preview->cancel))
    draw (preview);
  gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (preview->progress),
                                 g_atomic_int_get (&preview->permille) / 1000.0);
  return G_SOURCE_CONTINUE;
}

static void
log_preview (DeblurPreview *preview, Job *job, gint64 now)
{
  /* For the tests and the README's figure: where and how long. */
  const gchar *path = g_getenv ("FDIKP_DEBLUR_PREVIEW_LOG");
  FILE        *log;

  if (! path || ! *path || ! (log = fopen (path, "a")))
    return;
  fprintf (log,
           "{\"preview\": %d, \"x\": %d, \"y\": %d, \"width\": %d, \"height\": %d, "
           "\"seconds\": %.3f, \"since_dialog_seconds\": %.3f, \"bands\": %d, "
           "\"first_band_seconds\": %.3f, \"error\": %s}\n",
           preview->finished, job->rect.x, job->rect.y, job->rect.width, job->rect.height,
           (now - job->started) / 1e6, (now - preview->opened) / 1e6,
           g_atomic_int_get (&job->bands),
           job->first_band ? (job->first_band - job->started) / 1e6 : -1.0,
           job->error ? "true" : "false");
  fclose (log);
}

/* For the tests: the first finished preview as the preview area shows it
 * (its whole allocation, the view in its middle), written as PNG to
 * $FDIKP_DEBLUR_PREVIEW_SNAPSHOT; then the dialog is cancelled. */
static void
snapshot (DeblurPreview *preview)
{
  const gchar     *path = g_getenv ("FDIKP_DEBLUR_PREVIEW_SNAPSHOT");
  GtkWidget       *area;
  GtkWidget       *dialog;
  GtkAllocation    allocation;
  cairo_surface_t *surface;
  cairo_t         *cr;

  if (! path || ! *path || preview->finished != 1)
    return;
  area = gimp_preview_get_area (GIMP_PREVIEW (preview->preview));
  gtk_widget_get_allocation (area, &allocation);
  surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, allocation.width, allocation.height);
  cr      = cairo_create (surface);
  gtk_widget_draw (area, cr);
  cairo_destroy (cr);
  cairo_surface_write_to_png (surface, path);
  cairo_surface_destroy (surface);
  dialog = gtk_widget_get_toplevel (preview->box);
  if (GTK_IS_DIALOG (dialog))
    gtk_dialog_response (GTK_DIALOG (dialog), GTK_RESPONSE_CANCEL);
}

/* Back in the main loop when the worker is done. */
static gboolean
job_done (gpointer data)
{
  Job           *job       = data;
  DeblurPreview *preview   = job->preview;
  gboolean       cancelled = g_atomic_int_get (&preview->cancel) != 0;
  gint64         now       = g_get_monotonic_time ();

  g_thread_join (job->thread);
  preview->job = NULL;
  g_source_remove (preview->ticker);
  preview->ticker = 0;

  if (! cancelled)
    {
      if (job->error)
        {
          gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (preview->progress), 0.0);
          gtk_progress_bar_set_text (GTK_PROGRESS_BAR (preview->progress), job->error);
          draw (preview); /* not the bands done before the failure */
        }
      else
        {
          gchar *text;

          g_free (preview->result);
          preview->result      = job->pixels;
          preview->result_rect = job->rect;
          job->pixels          = NULL;
          preview->finished++;
          gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (preview->progress), 1.0);
          /* TRANSLATORS: %.1f is a number of seconds */
          text = g_strdup_printf (_ ("Preview ready (%.1f s)"), (now - job->started) / 1e6);
          gtk_progress_bar_set_text (GTK_PROGRESS_BAR (preview->progress), text);
          g_free (text);
          draw (preview);
        }
      log_preview (preview, job, now);
      if (! job->error)
        snapshot (preview);
    }

  job_free (job);

  if (preview->pending)
    start_job (preview);
  return G_SOURCE_REMOVE;
}

static gpointer
job_run (gpointer data)
{
  Job           *job     = data;
  DeblurPreview *preview = job->preview;
  GeglRectangle  inside;

  job->pixels = original_pixels (preview, &job->rect);
  /* Outside the selection's bounding box the filter changes nothing. */
  if (gegl_rectangle_intersect (&inside, &job->rect, &preview->area))
    {
      gint    stride    = job->rect.width * preview->bpp;
      gint    row_bytes = inside.width * preview->bpp;
      guchar *rows      = g_malloc ((gsize) row_bytes * MIN (BAND_ROWS, inside.height));
      gint    y;

      for (y = inside.y; y < inside.y + inside.height; y += BAND_ROWS)
        {
          GeglRectangle band = { inside.x, y, inside.width,
                                 MIN (BAND_ROWS, inside.y + inside.height - y) };
          const gchar  *failure;
          gint          row;

          if (g_atomic_int_get (&preview->cancel))
            break;
          gegl_node_blit (job->nodes.output, 1.0, &band, preview->format, rows, row_bytes,
                          GEGL_BLIT_DEFAULT);
          failure = deblur_graph_failure (&job->nodes);
          if (failure)
            {
              job->error = g_strdup (failure);
              break;
            }
          if (g_atomic_int_get (&preview->cancel))
            break; /* the band may be unfinished */
          g_mutex_lock (&job->lock);
          for (row = 0; row < band.height; row++)
            memcpy (job->pixels + (gsize) (band.y - job->rect.y + row) * stride
                        + (gsize) (band.x - job->rect.x) * preview->bpp,
                    rows + (gsize) row * row_bytes, row_bytes);
          g_mutex_unlock (&job->lock);
          if (! job->first_band)
            job->first_band = g_get_monotonic_time ();
          g_atomic_int_inc (&job->bands);
        }
      g_free (rows);
    }
  g_idle_add (job_done, job);
  return NULL;
}

static void
start_job (DeblurPreview *preview)
{
  Job      *job;
  GeglNode *source;
  GeglNode *crop;

  preview->pending = FALSE;
  if (! gimp_preview_get_update (GIMP_PREVIEW (preview->preview)))
    return;

  job          = g_new0 (Job, 1);
  job->preview = preview;
  g_mutex_init (&job->lock);
  job->started = g_get_monotonic_time ();
  view_rect (preview, &job->rect);

  job->graph = gegl_node_new ();
  source     = gegl_node_new_child (job->graph, "operation", "gegl:buffer-source", "buffer",
                                    preview->source, NULL);
  crop = gegl_node_new_child (job->graph, "operation", "gegl:crop", "x", (gdouble) preview->area.x,
                              "y", (gdouble) preview->area.y, "width",
                              (gdouble) preview->area.width, "height",
                              (gdouble) preview->area.height, NULL);
  gegl_node_link (source, crop);
  /* The procedure's own graph (deblur-graph.h): the preview shows what the
   * filter will produce, "Only where out of focus" included. */
  deblur_graph_build (&job->nodes, job->graph, crop, preview->config, NULL);
  g_atomic_int_set (&preview->cancel, 0);
  g_atomic_int_set (&preview->permille, 0);
  deblur_graph_set_cancel (&job->nodes, &preview->cancel);
  /* With the map, the bar follows the deblur op (the longer run). */
  g_signal_connect (job->nodes.deblur, "progress", G_CALLBACK (job_progress), preview);

  gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (preview->progress), 0.0);
  gtk_progress_bar_set_text (GTK_PROGRESS_BAR (preview->progress), _ ("Deblurring the preview..."));
  preview->ticker = g_timeout_add (100, show_progress, preview);
  preview->job    = job;
  job->thread     = g_thread_new ("fdikp-deblur-preview", job_run, job);
}

/* The view moved or the settings changed: run again, cancelling a run that
 * is under way (it ends at its next tile, and the new one starts then). */
static void
update (DeblurPreview *preview)
{
  if (preview->job)
    {
      g_atomic_int_set (&preview->cancel, 1);
      preview->pending = TRUE;
    }
  draw (preview); /* the original (or the last result) until the new one is ready */
  if (! preview->job)
    start_job (preview);
}

static void
config_changed (GObject *config, GParamSpec *pspec, gpointer data)
{
  DeblurPreview *preview = data;

  g_free (preview->result);
  preview->result = NULL;
  gimp_preview_invalidate (GIMP_PREVIEW (preview->preview));
}

static void
original_toggled (GtkToggleButton *button, gpointer data)
{
  draw (data);
}

DeblurPreview *
deblur_preview_new (GimpDrawable *drawable, GimpProcedureConfig *config, const GeglRectangle *area)
{
  DeblurPreview *preview = g_new0 (DeblurPreview, 1);
  GeglBuffer    *buffer  = gimp_drawable_get_buffer (drawable);
  gboolean       alpha   = gimp_drawable_has_alpha (drawable);

  preview->drawable = drawable;
  preview->config   = config;
  preview->area     = *area;
  preview->masked   = ! gimp_selection_is_empty (gimp_item_get_image (GIMP_ITEM (drawable)));
  preview->opened   = g_get_monotonic_time ();
  if (gimp_drawable_is_rgb (drawable))
    preview->format = babl_format (alpha ? "R'G'B'A u8" : "R'G'B' u8");
  else
    preview->format = babl_format (alpha ? "Y'A u8" : "Y' u8");
  preview->bpp    = babl_format_get_bytes_per_pixel (preview->format);
  /* Read once, here: the worker never talks to GIMP. */
  preview->source = gegl_buffer_dup (buffer);
  g_object_unref (buffer);

  preview->box      = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  preview->preview  = gimp_drawable_preview_new_from_drawable (drawable);
  preview->progress = gtk_progress_bar_new ();
  gtk_progress_bar_set_show_text (GTK_PROGRESS_BAR (preview->progress), TRUE);
  gtk_progress_bar_set_text (GTK_PROGRESS_BAR (preview->progress), "");
  preview->original = gtk_check_button_new_with_mnemonic (_ ("Show _original"));
  gtk_box_pack_start (GTK_BOX (preview->box), preview->preview, TRUE, TRUE, 0);
  gtk_box_pack_start (GTK_BOX (preview->box), preview->progress, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (preview->box), preview->original, FALSE, FALSE, 0);
  gtk_widget_show_all (preview->box);

  g_signal_connect_swapped (preview->preview, "invalidated", G_CALLBACK (update), preview);
  g_signal_connect (config, "notify", G_CALLBACK (config_changed), preview);
  g_signal_connect (preview->original, "toggled", G_CALLBACK (original_toggled), preview);
  return preview;
}

GtkWidget *
deblur_preview_widget (DeblurPreview *preview)
{
  return preview->box;
}

void
deblur_preview_free (DeblurPreview *preview)
{
  g_signal_handlers_disconnect_by_data (preview->config, preview);
  if (preview->job)
    {
      /* Stop the worker at its next tile and wait for it; its job_done
       * is still queued and must not run after this. */
      Job *job = preview->job;

      g_atomic_int_set (&preview->cancel, 1);
      g_thread_join (job->thread);
      g_idle_remove_by_data (job);
      job_free (job);
      preview->job = NULL;
    }
  if (preview->ticker)
    g_source_remove (preview->ticker);
  g_object_unref (preview->source);
  g_free (preview->result);
  g_free (preview);
}
