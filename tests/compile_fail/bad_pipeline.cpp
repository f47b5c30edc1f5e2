// Compiled with -fsyntax-only by CTest: each variant must fail with the role named.
#include <kvc/kvc.hpp>

struct not_a_scorer {
  int operator()(int) const { return 0; }
};
struct not_a_selector {
  void operator()(const kvc::score_matrix&) const {}
};
struct not_a_merger {
  int operator()() const { return 0; }
};

#if defined(KVC_BAD_ROLE_scorer)
using bad = kvc::pipeline<not_a_scorer, kvc::select::topk>;
#elif defined(KVC_BAD_ROLE_selector)
using bad = kvc::pipeline<kvc::score::key_norm, not_a_selector>;
#else
using bad = kvc::pipeline<kvc::score::key_norm, kvc::select::topk, not_a_merger>;
#endif

bad instance{};
