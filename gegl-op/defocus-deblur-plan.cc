/* The op's plan: asked of the engine once per set of options and kept on
 * the operation (defocus-deblur-plan.h).
 *
 * Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later. */

#include "defocus-deblur-plan.h"

#include <mutex>
#include <string>

struct KeptPlan
{
  std::string key;
  fdikp::Plan plan;
};

bool
deblur_planned (GeglOperation *operation, const fdikp::Options &options, fdikp::Plan *plan)
{
  static std::mutex mutex;
  const std::string key = options.model_path + '\n' + std::to_string (options.stages) + '\n'
                          + std::to_string (options.tile_size) + '\n'
                          + std::to_string (options.tile_overlap) + '\n'
                          + std::to_string (static_cast<int> (options.device)) + '\n'
                          + std::to_string (static_cast<int> (options.precision)) + '\n'
                          + std::to_string (static_cast<int> (options.output));
  std::lock_guard<std::mutex> lock (mutex);
  auto *kept = static_cast<KeptPlan *> (g_object_get_data (G_OBJECT (operation), "fdikp-plan"));

  if (kept && kept->key == key)
    {
      *plan = kept->plan;
      return true;
    }
  if (! fdikp::plan (options, plan).ok ())
    return false;
  g_object_set_data_full (G_OBJECT (operation), "fdikp-plan", new KeptPlan{ key, *plan },
                          [] (gpointer data) { delete static_cast<KeptPlan *> (data); });
  return true;
}
