#pragma once
// Ada-KV (Feng et al. 2024) on SnapKV scores ("Ada-SnapKV"): one top-k over all heads of the
// layer with a per-head floor. docs/adakv.md

#include "kvc/version.hpp"
#include "kvc/core/pipeline.hpp"
#include "kvc/score/window_attention.hpp"
#include "kvc/select/head_adaptive.hpp"

namespace kvc::policy {
using adakv = pipeline<score::window_attention, select::head_adaptive>;
}
