// The op inside a host process, as the GIMP plug-in runs it: cancelling at
// several points leaves the output bit-identical to the input, a failure
// leaves its message on the operation, and a region asked for alone (GIMP's
// on-canvas preview) is computed alone and equals the same region of a
// whole-image run.

#include <gegl-plugin.h>
#include <gegl.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../check.h"
#include "gegl-op/defocus-deblur.h"

namespace {

std::string fixture(const std::string &name) {
  const char *dir = std::getenv("FDIKP_FIXTURES");
  return std::string(dir ? dir : "fixtures") + "/" + name;
}

const int kWidth = 150, kHeight = 110;

GeglBuffer *input_buffer() {
  const GeglRectangle extent = {0, 0, kWidth, kHeight};
  GeglBuffer *buffer = gegl_buffer_new(&extent, babl_format("R'G'B'A float"));
  std::vector<float> pixels(kWidth * kHeight * 4);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = ((i * 7919) % 1000) / 999.0f;
  gegl_buffer_set(buffer, &extent, 0, babl_format("R'G'B'A float"), pixels.data(),
                  GEGL_AUTO_ROWSTRIDE);
  return buffer;
}

std::vector<float> read_all(GeglBuffer *buffer) {
  const GeglRectangle extent = {0, 0, kWidth, kHeight};
  std::vector<float> pixels(kWidth * kHeight * 4);
  gegl_buffer_get(buffer, &extent, 1.0, babl_format("R'G'B'A float"), pixels.data(),
                  GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
  return pixels;
}

struct Run {
  std::vector<float> output;
  int progress_calls = 0;
  std::string error;       // what the op left under FDIKP_DEBLUR_ERROR_KEY
  bool kept_plan = false;  // the op kept its plan on the operation
};

struct Watch {
  int calls = 0;
  int cancel_at = -1;  // progress call after which to cancel
  gint *flag = nullptr;
};

void on_progress(GeglNode *, gdouble, gpointer data) {
  auto *watch = static_cast<Watch *>(data);
  if (++watch->calls == watch->cancel_at) g_atomic_int_set(watch->flag, 1);
}

Run run_op(GeglBuffer *input, const std::string &model, int cancel_at, int tile = 48) {
  GeglNode *graph = gegl_node_new();
  GeglBuffer *output = nullptr;
  GeglNode *source =
      gegl_node_new_child(graph, "operation", "gegl:buffer-source", "buffer", input, NULL);
  GeglNode *deblur =
      gegl_node_new_child(graph, "operation", FDIKP_DEBLUR_OPERATION, "model", model.c_str(),
                          "tile-size", tile, "tile-overlap", 12, NULL);
  GeglNode *sink =
      gegl_node_new_child(graph, "operation", "gegl:buffer-sink", "buffer", &output, NULL);
  gegl_node_link_many(source, deblur, sink, NULL);
  gint flag = 0;
  Watch watch;
  watch.cancel_at = cancel_at;
  watch.flag = &flag;
  GeglOperation *operation = gegl_node_get_gegl_operation(deblur);
  g_object_set_data(G_OBJECT(operation), FDIKP_DEBLUR_CANCEL_KEY, &flag);
  g_signal_connect(deblur, "progress", G_CALLBACK(on_progress), &watch);
  gegl_node_process(sink);
  Run run;
  run.output = read_all(output);
  run.progress_calls = watch.calls;
  const char *error =
      static_cast<const char *>(g_object_get_data(G_OBJECT(operation), FDIKP_DEBLUR_ERROR_KEY));
  run.error = error ? error : "";
  run.kept_plan = g_object_get_data(G_OBJECT(operation), "fdikp-plan") != nullptr;
  g_object_unref(output);
  g_object_unref(graph);
  return run;
}

// The op's output over `roi` only, as GIMP's canvas asks for it
// (gegl_node_blit), and the progress calls (one per tile, plus the first
// and last) it took.
std::vector<float> blit_region(GeglBuffer *input, const std::string &model,
                               const GeglRectangle &roi, int *progress_calls) {
  GeglNode *graph = gegl_node_new();
  GeglNode *source =
      gegl_node_new_child(graph, "operation", "gegl:buffer-source", "buffer", input, NULL);
  GeglNode *deblur = gegl_node_new_child(graph, "operation", FDIKP_DEBLUR_OPERATION, "model",
                                         model.c_str(), "tile-size", 48, "tile-overlap", 12, NULL);
  gegl_node_link(source, deblur);
  Watch watch;
  g_signal_connect(deblur, "progress", G_CALLBACK(on_progress), &watch);
  std::vector<float> pixels(std::size_t(roi.width) * roi.height * 4);
  gegl_node_blit(deblur, 1.0, &roi, babl_format("R'G'B'A float"), pixels.data(),
                 GEGL_AUTO_ROWSTRIDE, GEGL_BLIT_DEFAULT);
  *progress_calls = watch.calls;
  g_object_unref(graph);
  return pixels;
}

}  // namespace

TEST(a_region_alone_is_computed_alone_and_equals_that_region_of_the_whole_image) {
  GeglBuffer *input = input_buffer();
  const Run full = run_op(input, fixture("sharpen.pt"), -1);
  // get_required_for_output() and process() read one plan, kept on the
  // operation (gegl-op/defocus-deblur-plan.h).
  CHECK(full.kept_plan);
  CHECK(full.error.empty());
  const GeglRectangle regions[] = {{70, 50, 9, 7},
                                   {0, 0, 1, 1},
                                   {kWidth - 13, kHeight - 5, 13, 5},
                                   {47, 31, 61, 45},
                                   {0, 0, kWidth, kHeight}};
  for (const GeglRectangle &roi : regions) {
    int calls = 0;
    const std::vector<float> part = blit_region(input, fixture("sharpen.pt"), roi, &calls);
    bool same = true;
    for (int y = 0; y < roi.height; ++y)
      for (int x = 0; x < roi.width; ++x)
        for (int c = 0; c < 4; ++c)
          same = same && part[(std::size_t(y) * roi.width + x) * 4 + c] ==
                             full.output[(std::size_t(roi.y + y) * kWidth + roi.x + x) * 4 + c];
    CHECK(same);
    if (roi.width * 4 < kWidth && roi.height * 4 < kHeight) CHECK(calls < full.progress_calls / 2);
  }
  g_object_unref(input);
}

TEST(cancelling_at_several_points_leaves_the_pixels_as_they_were) {
  GeglBuffer *input = input_buffer();
  const std::vector<float> original = read_all(input);
  const Run full = run_op(input, fixture("sharpen.pt"), -1);
  CHECK(full.error.empty());
  CHECK(full.output != original);  // the filter really changes the image...
  CHECK(full.progress_calls >= 8);
  // ...and a cancel after the first, a middle and the last-but-one tile
  // leaves every value, alpha included, exactly as it was.
  for (int at : {1, full.progress_calls / 2, full.progress_calls - 2}) {
    const Run cancelled = run_op(input, fixture("sharpen.pt"), at);
    CHECK(cancelled.output == original);
    CHECK(cancelled.error.empty());
    CHECK(cancelled.progress_calls < full.progress_calls);
  }
  g_object_unref(input);
}

TEST(a_failure_leaves_the_pixels_and_a_message) {
  GeglBuffer *input = input_buffer();
  const std::vector<float> original = read_all(input);
  // Fails on the first 96-px tile, after the load-time checks passed.
  const Run failed = run_op(input, fixture("throws-large.pt"), -1, 96);
  CHECK(failed.output == original);
  CHECK_CONTAINS(failed.error, "fixture model failure on a large tile");
  const Run missing = run_op(input, "/nonexistent/model.pt", -1);
  CHECK(missing.output == original);
  CHECK_CONTAINS(missing.error, "does not exist");
  const Run next = run_op(input, fixture("identity.pt"), -1);
  CHECK(next.error.empty());
  g_object_unref(input);
}

int main() {
  gegl_init(nullptr, nullptr);
  const int status = check::run_all();
  gegl_exit();
  return status;
}
