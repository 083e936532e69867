/* The installed models as the op presents them when it is registered: the
 * listing key's text and the "model" property's description, in the
 * user's language; the folders, the default and the listing's format are
 * the engine's catalogue (engine/catalog.h).
 *
 * This program is free software: you can redistribute it and/or modify it
 * under the terms of the GNU General Public License as published by the Free
 * Software Foundation, either version 3 of the License, or (at your option)
 * any later version.
 *
 * Copyright (C) 2026 The fdikp-deblur authors.
 */

#include "config.h"

#include <glib/gi18n-lib.h>

#include <string>

#include "defocus-deblur-models.h"
#include "engine/catalog.h"

namespace
{

/* A model's speed class in the user's words, for its label:
 * "FDIKP-S (fast)". */
std::string
speed_words (const std::string &speed_class)
{
  if (speed_class == "fast")
    return _ ("fast");
  if (speed_class == "quality")
    return _ ("best quality");
  return "";
}

struct Installed
{
  std::string listing;
  std::string description;
};

/* Found once: GEGL reads both when it registers the op. */
const Installed &
installed (void)
{
  static const Installed found = [] {
    Installed            result;
    std::string          names;
    const fdikp::Listing listing = fdikp::listing (speed_words);

    for (const std::string &problem : listing.problems)
      g_warning ("fdikp:defocus-deblur: a model file is not listed: %s", problem.c_str ());
    result.listing = fdikp::listing_text (listing);
    for (const fdikp::ListedModel &model : listing.models)
      names += (names.empty () ? "" : ", ") + model.name
               + (model.label != model.name ? " = " + model.label : "")
               + (model.is_default ? std::string (" ") + _ ("(default)") : "");

    gchar *text = g_strdup_printf (
        /* TRANSLATORS: %s lists the installed models: "fdikp-s = FDIKP-S (fast) (default), ..." */
        _ ("The name of an installed model, or a TorchScript model file; empty uses the "
           "default model. Installed: %s"),
        names.empty () ? _ ("none") : names.c_str ());

    result.description = text;
    g_free (text);
    return result;
  }();

  return found;
}

} // namespace

const gchar *
fdikp_deblur_model_listing (void)
{
  return installed ().listing.c_str ();
}

const gchar *
fdikp_deblur_model_description (void)
{
  return installed ().description.c_str ();
}
