// Facts about a model file: what its metadata says, or the defaults for a
// file without metadata. Filled by the metadata reader (metadata.h) and
// returned by the engine's inspect_model (engine.h).
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#ifndef FDIKP_MODEL_INFO_H
#define FDIKP_MODEL_INFO_H

#include <string>

#include "engine/option_limits.h"
#include "metadata_schema.h"

namespace fdikp {

// The schema's defaults (metadata_schema.h), evaluated at compile time.
namespace fallback {
constexpr int default_stages = static_cast<int>(metadata::key("default_stages").fallback);
constexpr int max_stages = static_cast<int>(metadata::key("max_stages").fallback);
constexpr int base_multiple = static_cast<int>(metadata::key("base_multiple").fallback);
constexpr int recommended_tile_size =
    static_cast<int>(metadata::key("recommended_tile_size").fallback);
constexpr int recommended_tile_overlap =
    static_cast<int>(metadata::key("recommended_tile_overlap").fallback);
constexpr double memory_bytes_per_pixel = metadata::key("memory_bytes_per_pixel").fallback;
constexpr long long parameters = static_cast<long long>(metadata::key("parameters").fallback);
constexpr double bf16_psnr_change_db = metadata::key("bf16_psnr_change_db").fallback;
constexpr int defocus_map_multiple =
    static_cast<int>(metadata::key("defocus_map_multiple").fallback);
}  // namespace fallback

// A file without metadata, or without a key, has the schema's defaults.
struct ModelInfo {
  std::string architecture;  // "" when the file carries no metadata
  // How users choose and see it (catalog.h): a short name for scripts
  // ("fdikp-s"; "" = the file's name), a title for menus ("FDIKP-S") and
  // a speed class, "fast" or "quality" ("" = not stated).
  std::string name;
  std::string title;
  std::string speed_class;
  std::string version;
  std::string training;
  int default_stages = fallback::default_stages;
  int max_stages = fallback::max_stages;
  int base_multiple =
      fallback::base_multiple;  // sides padded to size_multiple(base_multiple, stages)
  // The tile the automatic choice takes on the CPU (memory permitting).
  int recommended_tile_size = fallback::recommended_tile_size;
  // The overlap the automatic choice (Options::tile_overlap -1) takes:
  // what the model was measured to need for seams that do not show.
  int recommended_tile_overlap = fallback::recommended_tile_overlap;
  double memory_bytes_per_pixel = fallback::memory_bytes_per_pixel;  // 0 = unknown
  long long parameters = fallback::parameters;
  // The largest PSNR change bfloat16 made against float32 on the check
  // pairs, in dB; negative = not checked (automatic precision keeps fp32).
  double bf16_psnr_change_db = fallback::bf16_psnr_change_db;
  // A defocus map (Output::DefocusMap): the file has a method
  // defocus_map(image) -> N x 1 x H x W, the blur radius in
  // defocus_map_unit ("px", pixels: the one unit this engine reads), whose
  // input sides are padded to defocus_map_multiple; how it was trained.
  bool defocus_map = false;
  std::string defocus_map_unit = "px";
  int defocus_map_multiple = fallback::defocus_map_multiple;
  std::string defocus_map_training;
};

// The multiple of which a model's input sides must be for `stages` stages:
// each stage halves the image, so base_multiple * 2^(stages - 1).
constexpr int size_multiple(int base_multiple, int stages) { return base_multiple << (stages - 1); }

}  // namespace fdikp

#endif  // FDIKP_MODEL_INFO_H
