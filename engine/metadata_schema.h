/* The metadata a model file carries (the flat JSON object `fdikp.json` in
 * its TorchScript archive): every key, its type, its range and its default.
 * The one definition: the engine's reader (metadata.cc) checks and fills
 * ModelInfo by it, and the exporter (model/fdikp/contract.py, for
 * model/fdikp/export.py) parses this file to write and check what it
 * writes. Plain C macros, one key per line, so that Python reads it too.
 *
 * FDIKP_METADATA_KEY(key, type, minimum, maximum, default, longest)
 *   type     STRING (any text), NAME (ASCII letters, digits, - _ . +, not
 *            starting with '.'), LABEL (no control characters), INT or
 *            NUMBER;
 *   minimum, maximum: the range of an INT or NUMBER (default_stages is
 *            also at most the model's max_stages);
 *   default  what a model without the key is taken to have (numbers);
 *   longest  the most bytes a NAME or LABEL may have.
 * Keys a reader does not know are ignored, so newer exporters may add keys
 * without a new format version.
 *
 * Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later. */

#ifndef FDIKP_METADATA_SCHEMA_H
#define FDIKP_METADATA_SCHEMA_H

#include "option_limits.h"

#define FDIKP_METADATA_FORMAT "fdikp-deblur-model"
#define FDIKP_METADATA_FORMAT_VERSION 1

/* One key per line, as model/fdikp/contract.py reads them. */
/* clang-format off */
#define FDIKP_METADATA_KEYS(FDIKP_METADATA_KEY) \
  FDIKP_METADATA_KEY(format, STRING, 0, 0, 0, 0) \
  FDIKP_METADATA_KEY(format_version, INT, 1, 1000000, 1, 0) \
  FDIKP_METADATA_KEY(name, NAME, 0, 0, 0, 64) \
  FDIKP_METADATA_KEY(title, LABEL, 0, 0, 0, 120) \
  FDIKP_METADATA_KEY(speed_class, NAME, 0, 0, 0, 32) \
  FDIKP_METADATA_KEY(architecture, STRING, 0, 0, 0, 0) \
  FDIKP_METADATA_KEY(configuration, STRING, 0, 0, 0, 0) \
  FDIKP_METADATA_KEY(network, STRING, 0, 0, 0, 0) \
  FDIKP_METADATA_KEY(version, STRING, 0, 0, 0, 0) \
  FDIKP_METADATA_KEY(training, STRING, 0, 0, 0, 0) \
  FDIKP_METADATA_KEY(max_stages, INT, FDIKP_NETWORK_STAGES_MIN, FDIKP_STAGES_MAX, FDIKP_STAGES_MAX, 0) \
  FDIKP_METADATA_KEY(default_stages, INT, FDIKP_NETWORK_STAGES_MIN, FDIKP_STAGES_MAX, FDIKP_TRAINED_STAGES, 0) \
  FDIKP_METADATA_KEY(base_multiple, INT, 1, 1024, 1, 0) \
  FDIKP_METADATA_KEY(recommended_tile_size, INT, 16, 16384, 320, 0) \
  FDIKP_METADATA_KEY(memory_bytes_per_pixel, NUMBER, 0, 1000000000, 0, 0) \
  FDIKP_METADATA_KEY(parameters, INT, 0, 2147483647, 0, 0)
/* clang-format on */

/* What each key means:
 *   format, format_version: FDIKP_METADATA_FORMAT and the version of this
 *     schema the file follows (a newer one is refused);
 *   name, title, speed_class: how users choose the model (catalog.h):
 *     "fdikp-s", "FDIKP-S", "fast" or "quality";
 *   architecture, configuration, network: the network ("FDIKP",
 *     "DeepRFTv2"), its named configuration, and the configuration as JSON
 *     text (the exporter's, to rebuild the network; the engine does not
 *     read it);
 *   version, training: the exporter's version, how the weights were
 *     trained;
 *   max_stages, default_stages: the stages the model runs, and those it was
 *     trained with (what "stages" 0 runs);
 *   base_multiple: its input sides are padded to base_multiple << (stages - 1);
 *   recommended_tile_size: the CPU tile the automatic choice takes;
 *   memory_bytes_per_pixel: measured peak memory per input pixel (0 = not
 *     measured);
 *   parameters: the network's parameter count. */

#ifdef __cplusplus
#include <cstddef>

namespace fdikp {
namespace metadata {

enum class Type { STRING, NAME, LABEL, INT, NUMBER };

struct Key {
  const char *name;
  Type type;
  double minimum, maximum, fallback;
  std::size_t longest;
};

constexpr Key kKeys[] = {
#define FDIKP_METADATA_KEY_SPEC(key, type, minimum, maximum, fallback, longest) \
  {#key, Type::type, minimum, maximum, fallback, longest},
    FDIKP_METADATA_KEYS(FDIKP_METADATA_KEY_SPEC)
#undef FDIKP_METADATA_KEY_SPEC
};

constexpr bool same(const char *a, const char *b) {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}

// The schema's entry for `name`; used in constant expressions, a name that
// is not in the schema does not compile.
constexpr const Key &key(const char *name) {
  for (const Key &k : kKeys)
    if (same(k.name, name)) return k;
  throw "not a metadata key";
}

}  // namespace metadata
}  // namespace fdikp
#endif

#endif /* FDIKP_METADATA_SCHEMA_H */
