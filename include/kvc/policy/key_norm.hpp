#pragma once
// Key norm (Devoto et al. 2024): keep the lowest-norm keys. docs/key_norm.md

#include "kvc/version.hpp"
#include "kvc/core/pipeline.hpp"
#include "kvc/score/key_norm.hpp"
#include "kvc/select/topk.hpp"

namespace kvc::policy {
using key_norm = pipeline<score::key_norm, select::topk>;
}
