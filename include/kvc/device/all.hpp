#pragma once
// Everything kvc runs under kvc::exec::device<System> (Thrust): the device versions of the
// scorers, selectors, mergers, the LoRC projector and compaction, and the compress / per-stage entry points.

#include "kvc/version.hpp"

#include "kvc/device/attention.hpp"
#include "kvc/device/center_merge.hpp"
#include "kvc/device/centroid_protected.hpp"
#include "kvc/device/class_assignment.hpp"
#include "kvc/device/compact.hpp"
#include "kvc/device/compressed_layer.hpp"
#include "kvc/device/drop.hpp"
#include "kvc/device/evict_merge.hpp"
#include "kvc/device/fastgen.hpp"
#include "kvc/device/global_local.hpp"
#include "kvc/device/head_adaptive.hpp"
#include "kvc/device/algorithm.hpp"
#include "kvc/device/keep_set.hpp"
#include "kvc/device/key_norm.hpp"
#include "kvc/device/low_rank.hpp"
#include "kvc/device/pipeline.hpp"
#include "kvc/device/relocate.hpp"
#include "kvc/device/score_matrix.hpp"
#include "kvc/device/sink_window.hpp"
#include "kvc/device/topk.hpp"
#include "kvc/device/validate.hpp"
#include "kvc/device/vector.hpp"

#if defined(__CUDACC__) && THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CUDA
#include "kvc/device/cuda/fast_paths.cuh"  // CUDA kernels where they pay (kvc/device/fast_path.hpp)
#endif
