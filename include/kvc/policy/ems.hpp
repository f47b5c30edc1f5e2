#pragma once
// EMS (Li et al. 2024, arXiv 2412.08521): Global-Local scores, a head-wise split into kept,
// merged and evicted (zero class) bands, and score-weighted merging of the keys (their norm kept)
// and values into the kept centers.
// score.window and select.recent are the same observation window; change both together.
// It follows the public sources' description of the method section; docs/ems.md compares them
// with kvc point by point and names kvc's own choices.

#include "kvc/version.hpp"
#include "kvc/core/pipeline.hpp"
#include "kvc/ems/class_assignment.hpp"
#include "kvc/merge/center_merge.hpp"
#include "kvc/score/global_local.hpp"
#include "kvc/select/evict_merge.hpp"

namespace kvc::policy {
using ems = pipeline<score::global_local, select::evict_merge, merge::center_merge>;
}
