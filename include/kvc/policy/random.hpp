#pragma once
// Random eviction with a seed: the control every evaluation needs. docs/random.md

#include "kvc/version.hpp"
#include "kvc/core/pipeline.hpp"
#include "kvc/score/random.hpp"
#include "kvc/select/topk.hpp"

namespace kvc::policy {
using random = pipeline<score::random, select::topk>;
}
