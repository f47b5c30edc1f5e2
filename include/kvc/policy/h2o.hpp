#pragma once
// H2O (Zhang et al. 2023): heavy hitters by accumulated attention + a recent window. docs/h2o.md

#include "kvc/version.hpp"
#include "kvc/core/pipeline.hpp"
#include "kvc/score/accumulated_attention.hpp"
#include "kvc/select/topk.hpp"

namespace kvc::policy {
using h2o = pipeline<score::accumulated_attention, select::heavy_recent>;
}
