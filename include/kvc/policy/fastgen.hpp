#pragma once
// FastGen (Ge et al. 2024, "Model Tells You What to Discard"): per kv head, the cheapest hybrid of
// special / punctuation / frequent / local / full caches that recovers T of the prompt attention.
// Defaults are the paper's: T = 0.95, r_l = r_f = 0.3. The selector sets each head's budget from T
// (ragged); pass budget::ratio{1.0}, or set .select.budget = fastgen::budget_use::cap to make the
// pipeline's budget a per-head ceiling. Generation: kvc::fastgen::decode_cache. docs/fastgen.md
//
//   auto classes = kvc::fastgen::classify(token_ids, special_ids, kvc::fastgen::punctuation_ids(vocab));
//   kvc::policy::fastgen policy{.select = {.classes = classes}};
//   auto compressed = policy(layer, kvc::budget::ratio{1.0});

#include "kvc/version.hpp"
#include "kvc/core/pipeline.hpp"
#include "kvc/fastgen/selector.hpp"
#include "kvc/score/accumulated_attention.hpp"

namespace kvc::policy {
using fastgen = pipeline<score::accumulated_attention, ::kvc::fastgen::selector>;
}
