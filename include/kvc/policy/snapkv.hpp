#pragma once
// SnapKV (Li et al. 2024): pooled observation-window attention; the window itself is kept.
// score.window and select.window are the same window; change both together. docs/snapkv.md

#include "kvc/version.hpp"
#include "kvc/core/pipeline.hpp"
#include "kvc/score/window_attention.hpp"
#include "kvc/select/topk.hpp"

namespace kvc::policy {
using snapkv = pipeline<score::window_attention, select::window_topk>;
}
