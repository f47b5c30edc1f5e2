#pragma once
// TOVA (Oren et al. 2024): keep the tokens the last query attends to most. docs/tova.md

#include "kvc/version.hpp"
#include "kvc/core/pipeline.hpp"
#include "kvc/score/last_query_attention.hpp"
#include "kvc/select/topk.hpp"

namespace kvc::policy {
using tova = pipeline<score::last_query_attention, select::topk>;
}
