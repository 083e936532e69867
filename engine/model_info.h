// Facts about a model file: what its metadata says, or the defaults for a
// file without metadata. Filled by the metadata reader (metadata.h) and
// returned by the engine's inspect_model (engine.h).
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#ifndef FDIKP_MODEL_INFO_H
#define FDIKP_MODEL_INFO_H

#include <string>

#include "option_limits.h"

namespace fdikp {

struct ModelInfo {
  std::string architecture;     // "" when the file carries no metadata
  // How users choose and see it (catalog.h): a short name for scripts
  // ("fdikp-s"; "" = the file's name), a title for menus ("FDIKP-S") and
  // a speed class, "fast" or "quality" ("" = not stated).
  std::string name;
  std::string title;
  std::string speed_class;
  std::string version;
  std::string training;
  int default_stages = FDIKP_TRAINED_STAGES;
  int max_stages = FDIKP_STAGES_MAX;
  int base_multiple = 1;        // H, W padded to size_multiple(base_multiple, stages)
  // The tile the automatic choice takes on the CPU (memory permitting): the
  // cache-friendly size that model/fdikp/export.py writes for FDIKP.
  int recommended_tile_size = 320;
  double memory_bytes_per_pixel = 0;  // 0 = unknown
  long long parameters = 0;
};

// The multiple of which a model's input sides must be for `stages` stages:
// each stage halves the image, so base_multiple * 2^(stages - 1).
constexpr int size_multiple(int base_multiple, int stages) {
  return base_multiple << (stages - 1);
}

}  // namespace fdikp

#endif  // FDIKP_MODEL_INFO_H
