#pragma once
// EMS (Li et al. 2024, arXiv 2412.08521): Global-Local scores, a head-wise evict-then-merge
// split with the zero class, and score-weighted merging of the values (keys optional) into
// the kept centers.
// score.window and select.recent are the same observation window; change both together.
// The paper's method section was not available to kvc; docs/ems.md says what is the paper's
// and what is kvc's reading.

#include "kvc/version.hpp"
#include "kvc/core/pipeline.hpp"
#include "kvc/ems/class_assignment.hpp"
#include "kvc/merge/center_merge.hpp"
#include "kvc/score/global_local.hpp"
#include "kvc/select/evict_merge.hpp"

namespace kvc::policy {
using ems = pipeline<score::global_local, select::evict_merge, merge::center_merge>;
}
