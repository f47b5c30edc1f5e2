#pragma once
// IntelLLM (OpenReview 4QWPCTLq20; kvc's reading of the public abstract, docs/intelllm.md):
//   CGE  score::center_of_gravity        the observation window's accumulated attention
//        select::centroid_protected      shield the 2 * radius + 1 tokens around its center of
//          <select::window_topk>         gravity, keep the window, the rest by attention
//   RGL  merge::relocate<>               remote kept tokens keep their positions, the last
//                                        `local` kept tokens become contiguous
// Defaults (kvc's choices; the abstract gives none): score.window = 32 = select.inner.window
// (change both together), select.radius = 8, merge.mode = remote_gap, merge.local = 64.

#include "kvc/version.hpp"
#include "kvc/core/pipeline.hpp"
#include "kvc/merge/relocate.hpp"
#include "kvc/score/center_of_gravity.hpp"
#include "kvc/select/centroid_protected.hpp"
#include "kvc/select/topk.hpp"

namespace kvc::policy {
using intelllm = pipeline<score::center_of_gravity, select::centroid_protected<select::window_topk>, merge::relocate<>>;
}
