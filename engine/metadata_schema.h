/* The metadata a model file carries (the flat JSON object `fdikp.json` in
 * its TorchScript archive): every key, its type, its range and its default.
 * The one definition is engine/contract.json ("metadata"): the engine's
 * reader (metadata.cc) checks and fills ModelInfo by the header generated
 * from it, and the exporter (model/fdikp/contract.py, for
 * model/fdikp/export.py) reads the same file.
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

/* The keys themselves, their types, ranges and defaults, and the format's
 * name and version: generated from engine/contract.json
 * (engine/contract-gen.py metadata-keys). */
#include "engine/metadata_keys.h"

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
 *   recommended_tile_overlap: the overlap the automatic choice takes (the
 *     smallest whose seams were measured not to show);
 *   memory_bytes_per_pixel: measured peak memory per input pixel (0 = not
 *     measured);
 *   parameters: the network's parameter count;
 *   bf16_psnr_change_db: the largest PSNR change, in dB, that running the
 *     network in bfloat16 made against float32 on the exporter's check
 *     pairs (fdikp.precision_check; -1 = not checked): automatic precision
 *     takes bf16 only when it is within FDIKP_BF16_TOLERANCE_MILLIDB.
 *   defocus_map, defocus_map_unit, defocus_map_multiple,
 *     defocus_map_training: 1 when the file has a defocus map (a method
 *     defocus_map(image) -> N x 1 x H x W), its unit ("px": radius of the
 *     blur disc in pixels), the multiple its input sides are padded to, how
 *     its network was trained. */

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
