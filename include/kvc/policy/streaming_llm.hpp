#pragma once
// StreamingLLM (Xiao et al. 2024): attention sinks + a recent window. docs/streaming_llm.md

#include "kvc/version.hpp"
#include "kvc/core/pipeline.hpp"
#include "kvc/score/recency.hpp"
#include "kvc/select/sink_window.hpp"

namespace kvc::policy {
using streaming_llm = pipeline<score::recency, select::sink_window>;
}
